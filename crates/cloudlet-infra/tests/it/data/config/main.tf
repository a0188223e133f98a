# A configuration for the console oracle: variables of every kind of type
# constraint, values from defaults, TF_VAR_ variables and tfvars files, and
# locals that use them the way modules do (merge, slice, conditionals).

variable "name" {
  type    = string
  default = "web"
}

variable "instances" {
  type    = number
  default = 3
}

variable "enabled" {
  type    = bool
  default = true
}

variable "tags" {
  type    = map(string)
  default = { env = "dev", team = "core" }
}

variable "zones" {
  type    = list(string)
  default = ["a", "b", "c"]
}

variable "ports" {
  type    = set(number)
  default = [443, 80, 80]
}

variable "settings" {
  type = object({
    size  = number
    label = string
    extra = list(string)
  })
  default = { size = 2, label = "x", extra = [] }
}

variable "pair" {
  type    = tuple([string, number])
  default = ["p", 1]
}

variable "anything" {
  default = { a = [1, 2], b = "c" }
}

variable "from_env" {
  type = string
}

variable "from_tfvars" {
  type = list(number)
}

variable "overridden" {
  type    = string
  default = "default"
}

variable "password" {
  type      = string
  default   = "hunter2"
  sensitive = true
}

variable "maybe" {
  type    = string
  default = null
}

locals {
  prefix      = "${var.name}-${terraform.workspace}"
  names       = [for i in range(var.instances) : format("%s-%02d", local.prefix, i)]
  by_zone     = { for i, z in var.zones : z => local.names[i % length(local.names)] }
  common_tags = merge(var.tags, { Name = local.prefix, Managed = "cloudlet" })
  first_two   = slice(var.zones, 0, 2)
  size_class  = var.settings.size > 1 ? "large" : "small"
  enabled_n   = var.enabled ? var.instances : 0
  port_list   = sort([for p in var.ports : tostring(p)])
  nested      = { for k, v in var.tags : k => { value = v, upper = upper(v) } }
  chained     = length(local.names) + local.enabled_n
  secret_len  = length(var.password)
  doc         = <<-EOT
    name: ${var.name}
    %{~ for z in var.zones }
    zone: ${z}
    %{~ endfor }
  EOT
  maybe_or    = coalesce(var.maybe, "fallback")
}
