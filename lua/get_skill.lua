--[[ Read one skill with its files.
KEYS[1]  the skill's hash (P.."skill:"..ID)
Returns: {id, name, description, config, created_by, created ms, updated ms, file_count,
          content, files (JSON array)} | {}
]]
local f = redis.call('HMGET', KEYS[1], 'id', 'name', 'description', 'config', 'created_by',
                     'created', 'updated', 'file_count', 'content', 'files')
if not f[1] then return {} end
for i = 1, 10 do f[i] = f[i] or '' end
return f
