# The tier state every function reads (maintenance mode): active | paused | resuming.
# Terraform only creates it; the scaler function and scripts/tier/{pause,resume}.sh change
# the value, so Terraform ignores the value from then on.
resource "aws_ssm_parameter" "tier_state" {
  #checkov:skip=CKV2_AWS_34:Not a secret: a three-valued switch read by every function on each request (5 s cache); a SecureString would add a KMS decrypt to each read for no confidentiality gain.
  name            = local.tier_state_parameter
  description     = "ragops ${var.stage} vector tier state; paused or resuming puts the API in maintenance mode."
  type            = "String"
  value           = "paused"
  allowed_pattern = "^(active|paused|resuming)$"

  lifecycle {
    ignore_changes = [value]
  }
}
