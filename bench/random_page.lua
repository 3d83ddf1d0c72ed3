-- wrk script: every request asks for another page. PAGE is a path in which {p} becomes a random project
-- number (0000-0999) and {n} a random build number (1-20), so no answer is served twice from a warm cache.
local page = os.getenv("PAGE")
math.randomseed(os.time())
request = function()
  local path = page:gsub("{p}", string.format("%04d", math.random(0, 999)))
  path = path:gsub("{n}", tostring(math.random(1, 20)))
  return wrk.format("GET", path)
end
