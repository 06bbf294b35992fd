# The tier's log groups, created here so that they outlive a pause (terraform destroy of
# tier/). EKS writes its control-plane logs to /aws/eks/<cluster>/cluster and uses the group
# when it already exists; the VPC flow logs of tier/ go to the second group.
resource "aws_cloudwatch_log_group" "eks_cluster" {
  #checkov:skip=CKV_AWS_338:The control plane's audit log is most of the tier's log volume (a few hundred MB a day); it is kept for control_plane_log_retention_days (30), not a year.
  name              = local.eks_log_group_name
  retention_in_days = var.control_plane_log_retention_days
  kms_key_id        = aws_kms_key.ragops.arn
}

resource "aws_cloudwatch_log_group" "vpc_flow_logs" {
  name              = local.flow_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.ragops.arn
}
