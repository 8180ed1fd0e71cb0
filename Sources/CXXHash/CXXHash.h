// libxxhash 0.8 from Debian (libxxhash-dev), linked as a shared library: XXH3_64bits and
// XXH3_128bits are exported functions there, so no shim is needed.
#include <xxhash.h>
