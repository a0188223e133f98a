# A default that does not fit the type constraint.
variable "typed" {
  type    = number
  default = "abc"
}
