--[[ Read a request, applying its deadline first if it is due.
KEYS[1]  the request's hash
ARGV[1]  P   ARGV[2] runtime id   ARGV[3] request id
ARGV[4]  "1": also return the runtime's owner (routes only the owner may read)
Returns: {"ok", record (11 fields), ms to its next deadline (-1: none)[, owner]} | {"not_found"}
]]
local P, rt, id = ARGV[1], ARGV[2], ARGV[3]
local rk = KEYS[1]
-- The public fields, then what places its next deadline (12-16).
local f = redis.call('HMGET', rk, 'id', 'rt', 'kind', 'status', 'version', 'attempt', 'payload',
                     'result', 'error', 'created', 'updated', 'status', 'pdl', 'lease', 'rdl',
                     'ext')
if f[2] ~= rt then return {'not_found'} end
local now = now_ms()
local dl = deadline_of(f[12], f[13], f[14], f[15], f[16])
if dl and dl <= now then
  apply_deadline(P, rt, id, now)
  f = redis.call('HMGET', rk, 'id', 'rt', 'kind', 'status', 'version', 'attempt', 'payload',
                 'result', 'error', 'created', 'updated', 'status', 'pdl', 'lease', 'rdl', 'ext')
  dl = deadline_of(f[12], f[13], f[14], f[15], f[16])
end
for i = 16, 12, -1 do f[i] = nil end
local reply = {'ok', f, dl and math.max(0, dl - now) or -1}
if ARGV[4] == '1' then reply[4] = redis.call('HGET', rt_key(P, rt), 'owner') or '' end
return reply
