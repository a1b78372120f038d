--[[ Extend the current attempt's lease to its running deadline (the daemon has the work).
KEYS[1]  the request's hash
ARGV[1]  P   ARGV[2] runtime id   ARGV[3] request id   ARGV[4] attempt
Returns: {"ok", lease deadline ms} | {"not_found"} | {"cancelled"} |
         {"lease_lost"} (ended, or not the current running attempt)
]]
local P, rt, id, attempt = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local rk = KEYS[1]
local now = now_ms()
if redis.call('HGET', rk, 'rt') ~= rt then return {'not_found'} end
apply_deadline(P, rt, id, now)
local f = redis.call('HMGET', rk, 'status', 'attempt', 'rdl')
if f[1] == 'cancelled' then return {'cancelled'} end
if f[1] ~= 'running' or f[2] ~= attempt then return {'lease_lost'} end
redis.call('HSET', rk, 'lease', f[3], 'ext', '1')
redis.call('ZADD', rt_key(P, rt) .. ':deadlines', f[3], id)
return {'ok', tonumber(f[3])}
