-- wrk script for Scripts/bench-http: POST /v1/embeddings with one short text per request, as a RAG
-- service sends them. Environment:
--   EMB_TEXTS   a JSONL file of {"text": ...} lines (the workload)
--   EMB_REPEAT  share of requests that repeat a text this connection's thread already sent (0..1);
--               1 means every request sends the workload's first text (the L1-hit case)
--   EMB_FORMAT  "float" or "base64"
--   EMB_TAG     a tag unique to this run, part of every new text, so no run meets another's texts
-- A new text is a workload text with a unique suffix, so it is a miss; the JSON string literal is
-- taken from the file as it is (already escaped), so the body is valid JSON for any text.
local texts, sent = {}, {}
local repeat_share = tonumber(os.getenv("EMB_REPEAT") or "0")
local format = os.getenv("EMB_FORMAT") or "float"
local tag = os.getenv("EMB_TAG") or "0"
local counter = 0
id = id or 0  -- set per thread by setup() (thread:set), so threads never send the same new text
local headers = { ["Content-Type"] = "application/json" }
local next_id = 1

function setup(thread)
    thread:set("id", next_id)
    next_id = next_id + 1
end

local function body(literal)
    return '{"input":' .. literal .. ',"model":"all-MiniLM-L6-v2","encoding_format":"' .. format .. '"}'
end

function init(args)
    for line in io.lines(os.getenv("EMB_TEXTS")) do
        local literal = line:match('^{"text": (".*")}%s*$')
        if literal then texts[#texts + 1] = literal end
    end
    math.randomseed(id * 7919 + os.time())
    if repeat_share >= 1 then fixed = wrk.format("POST", "/v1/embeddings", headers, body(texts[1])) end
end

function request()
    if fixed then return fixed end  -- built once: the client's cost stays out of the hit figures
    counter = counter + 1
    local literal
    if #sent > 0 and math.random() < repeat_share then
        literal = sent[math.random(#sent)]
    else
        local base = texts[(counter % #texts) + 1]
        literal = base:sub(1, -2) .. " (variant " .. tag .. "-" .. id .. "-" .. counter .. ")\""
        if #sent < 4096 then sent[#sent + 1] = literal else sent[math.random(#sent)] = literal end
    end
    return wrk.format("POST", "/v1/embeddings", headers, body(literal))
end
