# tfvars files that set a variable nobody declared.
variable "declared" {
  default = "d"
}
