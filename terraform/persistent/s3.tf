# --- the documents bucket: the system of record -------------------------------------------
# raw/ (uploaded originals), documents/ (manifests), chunks/ (chunks and embeddings, from
# which a resumed tier is rehydrated). Owned here, never by the tier or the SAM stack: the
# serverless stack subscribes to its events through EventBridge (notifications below).
resource "aws_s3_bucket" "documents" {
  #checkov:skip=CKV_AWS_144:Single-region stage by design; versioning plus the never-destroyed persistent root protect the data, and cross-region replication would double the storage cost. Add it for disaster recovery if needed.
  bucket = local.documents_bucket_name

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_ownership_controls" "documents" {
  bucket = aws_s3_bucket.documents.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "documents" {
  bucket = aws_s3_bucket.documents.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "documents" {
  bucket = aws_s3_bucket.documents.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "documents" {
  bucket = aws_s3_bucket.documents.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.ragops.arn
    }
    # An S3 bucket key: far fewer KMS requests (and KMS charges) per object.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "documents" {
  bucket = aws_s3_bucket.documents.id

  rule {
    id     = "archive-raw-originals"
    status = "Enabled"

    filter {
      prefix = "raw/"
    }

    transition {
      days          = var.raw_archive_after_days
      storage_class = var.raw_archive_storage_class
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # The intent of a direct upload whose file never arrived (the presigned POST expires in
  # 15 minutes): nothing reads it after that; kept past the ingest queue's 14 days.
  rule {
    id     = "expire-abandoned-upload-intents"
    status = "Enabled"

    filter {
      prefix = "uploads/"
    }

    expiration {
      days = 15
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # A conversation not continued within the retention (every turn rewrites its object):
  # the API deletes an expired one when it meets it; this deletes the ones never met again.
  rule {
    id     = "expire-old-conversations"
    status = "Enabled"

    filter {
      prefix = "conversations/"
    }

    expiration {
      days = var.conversation_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  rule {
    id     = "expire-replaced-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    expiration {
      expired_object_delete_marker = true
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.documents]
}

# Both buckets refuse requests that are not over TLS.
data "aws_iam_policy_document" "tls_only" {
  for_each = {
    documents   = aws_s3_bucket.documents.arn
    access_logs = aws_s3_bucket.access_logs.arn
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value, "${each.value}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "documents" {
  bucket = aws_s3_bucket.documents.id
  policy = data.aws_iam_policy_document.tls_only["documents"].json

  depends_on = [aws_s3_bucket_public_access_block.documents]
}

# Browsers upload files too large for the API (over about 4.5 MB behind API Gateway and
# Lambda) straight to this bucket: POST /v1/uploads returns a presigned POST, and S3 must
# answer the web UI's cross-origin preflight. POST only, from the UI's origins; what may be
# stored is the signed policy's business (one exact key under raw/{tenant}/, a size range,
# an expiry), not CORS's. No origins: no rule, and large files go through the CLI only.
resource "aws_s3_bucket_cors_configuration" "documents" {
  count  = length(var.upload_cors_origins) > 0 ? 1 : 0
  bucket = aws_s3_bucket.documents.id

  cors_rule {
    id              = "browser-direct-uploads"
    allowed_methods = ["POST"]
    allowed_origins = var.upload_cors_origins
    allowed_headers = ["*"]
    max_age_seconds = 3000
  }

  # A cited document opened in the UI: GET /v1/documents/{id}/content redirects to a
  # presigned GET (5 minutes), which the UI's fetch follows cross-origin to read the bytes
  # (pdf.js renders them). Range: pdf.js may ask for parts.
  cors_rule {
    id              = "browser-document-views"
    allowed_methods = ["GET"]
    allowed_origins = var.upload_cors_origins
    allowed_headers = ["Range"]
    expose_headers  = ["Content-Range", "Content-Length", "Accept-Ranges"]
    max_age_seconds = 3000
  }
}

# Every object event goes to the default EventBridge bus; the SAM stack's rules pick what
# they need (ObjectCreated / ObjectDeleted under raw/) without owning the bucket.
resource "aws_s3_bucket_notification" "documents" {
  bucket      = aws_s3_bucket.documents.id
  eventbridge = true
}

resource "aws_s3_bucket_logging" "documents" {
  bucket        = aws_s3_bucket.documents.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "documents/"

  target_object_key_format {
    partitioned_prefix {
      partition_date_source = "EventTime"
    }
  }

  depends_on = [aws_s3_bucket_policy.access_logs]
}

# --- the access-log bucket: S3 server access logs of the documents bucket -----------------
resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log target; logging it to itself (or to a third bucket) would recurse without adding an audit trail.
  #checkov:skip=CKV_AWS_144:Access logs are an audit aid, not the system of record; replicating them to another region is not worth its cost here.
  #checkov:skip=CKV_AWS_145:S3 server access logging can deliver only to a bucket encrypted with SSE-S3 (AES256), not SSE-KMS.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of the log bucket; notifications would only add noise.
  bucket = local.access_log_bucket_name
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_log_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

data "aws_iam_policy_document" "access_logs_bucket" {
  source_policy_documents = [data.aws_iam_policy_document.tls_only["access_logs"].json]

  statement {
    sid       = "S3ServerAccessLogs"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/documents/*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.documents.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}
