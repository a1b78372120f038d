--[[ Read a request, applying its deadline first if it is due.
KEYS[1]  the request's hash
ARGV[1]  P   ARGV[2] runtime id   ARGV[3] request id
ARGV[4]  "1": also return the runtime's owner (routes only the owner may read)
Returns: {"ok", record (11 fields), ms to its next deadline (-1: none)[, owner]} | {"not_found"}
]]
local P, rt, id = ARGV[1], ARGV[2], ARGV[3]
local rk = KEYS[1]
if redis.call('HGET', rk, 'rt') ~= rt then return {'not_found'} end
local now = now_ms()
local dk = rt_key(P, rt) .. ':deadlines'
local dl = redis.call('ZSCORE', dk, id)
if dl and tonumber(dl) <= now then
  apply_deadline(P, rt, id, now)
  dl = redis.call('ZSCORE', dk, id)
end
local reply = {'ok', record_reply(rk), dl and math.max(0, tonumber(dl) - now) or -1}
if ARGV[4] == '1' then reply[4] = redis.call('HGET', rt_key(P, rt), 'owner') or '' end
return reply
