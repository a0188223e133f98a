# A configuration whose locals fail: the console reports the errors, warns,
# and treats the failed locals (and what depends on them) as unknown.
locals {
  ok    = 1
  bad   = upper([])
  dep   = "${local.bad}x"
  other = local.ok + 1
  multi = upper(
    []
  )
  sum = (
    1 + "x"
  )
  wide = {
    a = 1 + "y"
  }
}
