variable "a" {
    type = "string"
  default="x"
    description    =   "long"
}
# comment
resource "null_resource" "b"   {
  count=2
  triggers = {
    a = "${var.a}"
    bb="b${var.a}"   # trailing
    ccc   = [1,2,  3]
    d = {x=1, yy = 2}

    e = var.a
  }
  x = <<EOT
   keep   this
EOT
  y  = var.list[0] + 2 * (3-1)
  z = !true
  w = -1
  f = func(1,2)
  g = [for  s in var.l : upper(s) if s!=""]
  h = a ? b : c
  j = var.m["k"]
  k = var.x.*.id
  lifecycle {
     ignore_changes = [triggers]
  }
}
locals {
  list = [
    "a",
  "b"
  ]
  obj = {
    a = 1
    long_name = 2
  }
}
