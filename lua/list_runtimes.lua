--[[ List a workspace's runtimes with their liveness.
KEYS[1]  the workspace's runtime set (P.."runtimes")
ARGV[1]  P
Returns: {id, name, provider, owner, last_seen ms or "", online 1/0}... flattened, 6 per runtime
]]
local P = ARGV[1]
local out = {}
for _, rt in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local rtk = rt_key(P, rt)
  local f = redis.call('HMGET', rtk, 'name', 'provider', 'owner', 'last_seen')
  if f[1] then
    out[#out + 1] = rt
    out[#out + 1] = f[1]
    out[#out + 1] = f[2] or ''
    out[#out + 1] = f[3] or ''
    out[#out + 1] = f[4] or ''
    out[#out + 1] = redis.call('EXISTS', rtk .. ':alive')
  end
end
return out
