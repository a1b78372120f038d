--[[ Give back a claim whose daemon hung up before it got the reply: not a delivery.
KEYS[1]  the request's hash
ARGV[1]  P   ARGV[2] runtime id   ARGV[3] request id   ARGV[4] attempt   ARGV[5] consumer
The request returns to pending with its pending deadline as before the claim, the release does
not count against its attempts, and the next claim hands it out (XCLAIM) at once, with no lease
wait, as the next attempt number (attempt numbers only grow: they fence reports).
Returns: {"ok"} or {"ignored"} (it moved on meanwhile: ended, extended, or another attempt)
]]
local P, rt, id = ARGV[1], ARGV[2], ARGV[3]
local f = redis.call('HMGET', KEYS[1], 'status', 'attempt', 'consumer', 'ext', 'rt')
if f[1] ~= 'running' or f[2] ~= ARGV[4] or f[3] ~= ARGV[5] or f[4] == '1' or f[5] ~= rt then
  return {'ignored'}
end
back_to_pending(P, id, now_ms(), true)
return {'ok'}
