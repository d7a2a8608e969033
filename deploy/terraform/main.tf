# Cloud Logging sink -> topic -> subscription (with a dead-letter topic),
# and a dedicated service account holding only what the agent uses.

resource "google_pubsub_topic" "logs" {
  name = "sre-agent-logs"
}

resource "google_pubsub_topic" "dead" {
  name = "sre-agent-dead"
}

resource "google_logging_project_sink" "agent" {
  name                   = "sre-agent"
  destination            = "pubsub.googleapis.com/${google_pubsub_topic.logs.id}"
  filter                 = var.log_filter
  unique_writer_identity = true
}

# The sink writes as its own identity, to that topic only.
resource "google_pubsub_topic_iam_member" "sink_publishes" {
  topic  = google_pubsub_topic.logs.id
  role   = "roles/pubsub.publisher"
  member = google_logging_project_sink.agent.writer_identity
}

resource "google_pubsub_subscription" "agent" {
  name                       = "sre-agent-logs"
  topic                      = google_pubsub_topic.logs.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead.id
    max_delivery_attempts = 10
  }
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}

# Pub/Sub forwards undeliverable messages as its service agent.
data "google_project" "this" {}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  agent        = "serviceAccount:${google_service_account.agent.email}"
}

resource "google_pubsub_topic_iam_member" "pubsub_dead_letters" {
  topic  = google_pubsub_topic.dead.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_forwards" {
  subscription = google_pubsub_subscription.agent.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

resource "google_service_account" "agent" {
  account_id   = "sre-agent"
  display_name = "Cloud SRE Agent"
  description  = "Reads its log subscription, its named secrets; writes its own logs. Nothing else."
}

# Subscriber on that one subscription: pull and acknowledge.
resource "google_pubsub_subscription_iam_member" "agent_subscribes" {
  subscription = google_pubsub_subscription.agent.id
  role         = "roles/pubsub.subscriber"
  member       = local.agent
}

# Publisher on the dead-letter topic: bad messages the agent refuses.
resource "google_pubsub_topic_iam_member" "agent_dead_letters" {
  topic  = google_pubsub_topic.dead.id
  role   = "roles/pubsub.publisher"
  member = local.agent
}

# Secret accessor on the named secrets only.
resource "google_secret_manager_secret_iam_member" "agent_reads" {
  for_each  = toset(var.secret_ids)
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = local.agent
}

# Gemini on Vertex AI, when used.
resource "google_project_iam_member" "agent_vertex" {
  count   = var.use_vertex ? 1 : 0
  project = var.project
  role    = "roles/aiplatform.user"
  member  = local.agent
}

# Its own logs.
resource "google_project_iam_member" "agent_logs" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = local.agent
}

# GKE Workload Identity: the Kubernetes service account acts as this one.
resource "google_service_account_iam_member" "workload_identity" {
  count              = var.gke_namespace == "" ? 0 : 1
  service_account_id = google_service_account.agent.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project}.svc.id.goog[${var.gke_namespace}/sre-agent]"
}

# Cloud Run: an always-on instance that pulls (CPU always allocated), no
# public ingress, running as the dedicated service account.
resource "google_cloud_run_v2_service" "agent" {
  count    = var.cloud_run_image == "" ? 0 : 1
  name     = "sre-agent"
  location = var.region
  ingress  = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  template {
    service_account = google_service_account.agent.email
    scaling {
      min_instance_count = 1
      max_instance_count = 1
    }
    containers {
      image = var.cloud_run_image
      args  = ["run", "--config", "/etc/sre-agent/config.yaml"]
      resources {
        cpu_idle = false
        limits = {
          cpu    = "1"
          memory = "1Gi"
        }
      }
      ports {
        container_port = 9469
      }
      # Beyond loopback /healthz and /readyz need the dashboard's token,
      # which a Cloud Run HTTP probe could only carry in plain text: the
      # startup probe checks the port, and Cloud Run restarts a crashed
      # container itself.
      startup_probe {
        tcp_socket {
          port = 9469
        }
      }
    }
  }
}

output "service_account" {
  value = google_service_account.agent.email
}

output "subscription" {
  value = google_pubsub_subscription.agent.id
}
