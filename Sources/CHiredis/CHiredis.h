// hiredis 0.14 from Debian (libhiredis-dev). Only its Argv calls are used: the variadic
// redisCommand is not callable from Swift. No shim is needed.
#include <hiredis/hiredis.h>
