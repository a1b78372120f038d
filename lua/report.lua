--[[ Record a daemon's result: fenced by attempt alone.
KEYS[1]  the request's hash
ARGV[1]  P   ARGV[2] runtime id   ARGV[3] request id
ARGV[4]  attempt, or "" for the current one (compatibility reports carry none)
ARGV[5]  "completed" | "failed"   ARGV[6] result (JSON text, or "")   ARGV[7] error text
ARGV[8]  the kind the route reports for, or "" (compatibility routes are per kind)
Accepted when the request has not ended and the attempt is the current one, even if its lease
ran out and nobody has taken it over yet (it may be back in pending, same attempt).
Returns: {"ok"} | {"ignored"} (already ended) | {"cancelled"} | {"lease_lost"} | {"not_found"}
]]
local P, rt, id, attempt = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local rk = KEYS[1]
local now = now_ms()
local owner = redis.call('HMGET', rk, 'rt', 'kind')
if owner[1] ~= rt or (ARGV[8] ~= '' and owner[2] ~= ARGV[8]) then return {'not_found'} end
apply_deadline(P, rt, id, now)
local f = redis.call('HMGET', rk, 'status', 'attempt')
if f[1] == 'cancelled' then return {'cancelled'} end
if is_terminal(f[1]) then return {'ignored'} end
if f[2] == '0' or (attempt ~= '' and attempt ~= f[2]) then return {'lease_lost'} end
end_request(P, id, ARGV[5], ARGV[6] ~= '' and ARGV[6] or 'null', ARGV[7], now)
return {'ok'}
