--[[ List a workspace's skills (without file contents), oldest first.
KEYS[1]  the workspace's skill index (P.."skills")
ARGV[1]  P
Returns: {id, name, description, config, created_by, created ms, updated ms, file_count}...
         flattened, 8 per skill
]]
local P = ARGV[1]
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local f = redis.call('HMGET', P .. 'skill:' .. sid, 'id', 'name', 'description', 'config',
                       'created_by', 'created', 'updated', 'file_count')
  if f[1] then
    for i = 1, 8 do out[#out + 1] = f[i] or '' end
  end
end
return out
