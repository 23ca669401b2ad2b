-- bootstrap of a returning visitor: POST /api/widget/bootstrap with its session token.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")

function init(args)
  bench_init(args)
end

function request()
  local s = next_session()
  local body = string.format(
    '{"widget_token":"%s","session_token":"%s","page_url":"%s/catalog/1","locale":"ru-RU"}',
    widget_token, s.token, origin)
  return wrk.format("POST", "/api/widget/bootstrap", {
    ["Origin"] = origin,
    ["Content-Type"] = "application/json",
  }, body)
end
