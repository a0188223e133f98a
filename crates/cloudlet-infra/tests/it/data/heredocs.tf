# Heredocs whose values Terraform 1.0.3 gave (see eval.rs tests).
locals {
  a = <<-EOT
    x
      y
    z
  EOT
  b = <<-EOT
    x
    %{~ if true }
    y
    %{~ endif }
  EOT
  c = <<-EOT
    x
    %{ if true ~}
    y
    %{ endif ~}
  EOT
  d = <<EOT
  a ${"b"}
  c
EOT
  e = <<-EOT
    ${"i"}
      j
  EOT
  f = <<-EOT
    x %{~ if true ~} y %{~ endif ~} z
  EOT
  g = <<-EOT
    one

    two
  EOT
  h = <<-EOT
    %{ for i in [1, 2] ~}
    a-${i}
    %{ endfor ~}
  EOT
}
