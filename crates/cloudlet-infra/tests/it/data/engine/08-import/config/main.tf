resource "random_uuid" "u" {}

resource "null_resource" "n" {}
