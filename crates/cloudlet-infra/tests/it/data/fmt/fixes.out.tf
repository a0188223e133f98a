variable "l" {
  type = list(any)
}
locals {
  a             = var.x # one
  bbb           = 1     // two
  c             = "${var.x}-${var.y}"
  /* block */ d = 2
  e             = var.x
}
resource "aws_x" "y" {
  f = [
    1,  # first
    22, # second
  ]
}
