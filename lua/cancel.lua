--[[ Cancel a request that has not ended; a running daemon learns it on its next extend/report.
KEYS[1]  the request's hash
ARGV[1]  P   ARGV[2] runtime id   ARGV[3] request id
Returns: {"ok", record (11 fields), -1} (unchanged if it had ended) | {"not_found"}
]]
local P, rt, id = ARGV[1], ARGV[2], ARGV[3]
local rk = KEYS[1]
if redis.call('HGET', rk, 'rt') ~= rt then return {'not_found'} end
local now = now_ms()
apply_deadline(P, rt, id, now)
if not is_terminal(redis.call('HGET', rk, 'status')) then
  end_request(P, id, 'cancelled', nil, 'cancelled', now)
end
return {'ok', record_reply(rk), -1}
