# A tfvars value that does not fit the type constraint.
variable "port" {
  type    = number
  default = 1
}
