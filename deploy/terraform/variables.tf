variable "project" {
  description = "The Google Cloud project the agent watches and runs in."
  type        = string
}

variable "region" {
  description = "Region for Cloud Run."
  type        = string
  default     = "europe-west1"
}

variable "log_filter" {
  description = "Which log entries the sink sends: errors and worse by default."
  type        = string
  default     = "severity>=ERROR"
}

variable "secret_ids" {
  description = "Secret Manager secrets the agent reads (the GitHub App key, model API keys), by id."
  type        = list(string)
  default     = []
}

variable "use_vertex" {
  description = "Grant roles/aiplatform.user so the agent can call Gemini on Vertex AI."
  type        = bool
  default     = false
}

variable "gke_namespace" {
  description = "With GKE: the namespace of the agent's Kubernetes service account (Workload Identity). Empty: no binding."
  type        = string
  default     = ""
}

variable "cloud_run_image" {
  description = "With Cloud Run: the agent's image. Empty: no Cloud Run service."
  type        = string
  default     = ""
}
