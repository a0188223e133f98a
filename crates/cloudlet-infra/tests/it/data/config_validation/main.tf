# A variable whose default fails its validation rule, and one that passes.
variable "port" {
  type    = number
  default = 70000
  validation {
    condition     = var.port > 0 && var.port < 65536
    error_message = "The port must be between 1 and 65535."
  }
}

variable "ok" {
  default = "fine"
  validation {
    condition     = length(var.ok) > 0
    error_message = "Must not be empty."
  }
}
