-- send: POST /api/widget/messages, a unique client_msg_id per request (see common.lua).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

function init(args)
  bench_init(args)
end

function request()
  local s = next_session()
  local body = string.format(
    '{"body":"bench message %d","client_msg_id":"%s-%d-%d"}', sent, run_id, tid, sent)
  return wrk.format("POST", "/api/widget/messages", {
    ["Origin"] = origin,
    ["Authorization"] = "Bearer " .. s.token,
    ["Content-Type"] = "application/json",
  }, body)
end
