-- poll: GET /api/widget/messages?after=<id>; the sessions file says which id (bench.py
-- writes the newest id for "nothing new", the newest id - 1 for "one new").
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

function init(args)
  bench_init(args)
end

function request()
  local s = next_session()
  return wrk.format("GET", "/api/widget/messages?after=" .. s.after, {
    ["Origin"] = origin,
    ["Authorization"] = "Bearer " .. s.token,
  })
end
