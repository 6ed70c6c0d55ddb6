/* revati driver: what the NCCL interposer (native/nccl/, in librevati.so) needs from the streams: a
 * stream's device, trace id and ready time (a collective's arrival), and holding a stream until a
 * collective's completion. docs/coordination.md. */
#include "internal.h"

// revati_stream_info: device, trace id and ready time of a stream; -1 unknown stream, 1 capturing (no rendezvous)
RV_EXPORT int revati_stream_info(CUstream h, int *dev, unsigned long long *id, unsigned long long *ready) {
    rv_stream *s = rv_stream_resolve(h);
    if (!s) return -1;
    if (dev) *dev = s->dev;
    if (id) *id = s->id;
    if (ready) *ready = rv_stream_ready(s);
    return s->capture ? 1 : 0;
}

// revati_stream_hold: the stream's next work starts no earlier than t (a collective's completion)
RV_EXPORT void revati_stream_hold(CUstream h, unsigned long long t) {
    rv_stream *s = rv_stream_resolve(h);
    if (s) rv_stream_wait_until(s, (rv_vtime_ns)t);
}
