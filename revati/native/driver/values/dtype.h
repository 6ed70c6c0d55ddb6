/* revati driver: element types of host-executed kernels (mangled type codes, loads and stores). */
#ifndef REVATI_DRIVER_VALUES_DTYPE_H
#define REVATI_DRIVER_VALUES_DTYPE_H

#include <stdint.h>
#include <string.h>

/* An element type by its Itanium-mangled code: b bool, h uint8, a int8, s int16, i int32, j uint32,
 * l int64, m uint64, f float, d double; H half and B bfloat16 stand for N3c104HalfE and N3c108BFloat16E. */
typedef char rv_dt;

static inline int dt_size(rv_dt t) {
    switch (t) {
    case 'b': case 'h': case 'a': case 'c': return 1;
    case 's': case 't': case 'H': case 'B': return 2;
    case 'i': case 'j': case 'f': return 4;
    case 'l': case 'm': case 'x': case 'y': case 'd': return 8;
    default: return 0;
    }
}
static inline int dt_float(rv_dt t) { return t == 'f' || t == 'd' || t == 'H' || t == 'B'; }

/* A value in flight: integers (and bool) as int64, floating types as double. */
typedef struct {
    int64_t i;
    double f;
    int isf;
} rv_val;

static inline float half_to_f(uint16_t h) {
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (e == 0) {
        float v = (float)m / 16777216.0f; /* subnormal: m * 2^-24 */
        return s ? -v : v;
    }
    u = s | (e == 31 ? 0xff << 23 : (e + 112) << 23) | m << 13;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline uint16_t f_to_half(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t s = (u >> 16) & 0x8000;
    int e = (int)((u >> 23) & 0xff) - 112;
    uint32_t m = u & 0x7fffff;
    if (((u >> 23) & 0xff) == 0xff) return (uint16_t)(s | 0x7c00 | (m ? 0x200 : 0));
    if (e <= 0) return (uint16_t)s; /* underflow to zero: good enough for control values */
    if (e >= 31) return (uint16_t)(s | 0x7c00);
    uint32_t r = m + 0xfff + ((m >> 13) & 1); /* round to nearest even */
    if (r & 0x800000) r = 0, ++e;
    if (e >= 31) return (uint16_t)(s | 0x7c00);
    return (uint16_t)(s | (uint32_t)e << 10 | r >> 13);
}

static inline rv_val dt_load(rv_dt t, const void *p) {
    rv_val v = {0, 0, dt_float(t)};
    switch (t) {
    case 'b': v.i = *(const uint8_t *)p != 0; break;
    case 'h': v.i = *(const uint8_t *)p; break;
    case 'a': case 'c': v.i = *(const int8_t *)p; break;
    case 's': { int16_t x; memcpy(&x, p, 2); v.i = x; } break;
    case 't': { uint16_t x; memcpy(&x, p, 2); v.i = x; } break;
    case 'i': { int32_t x; memcpy(&x, p, 4); v.i = x; } break;
    case 'j': { uint32_t x; memcpy(&x, p, 4); v.i = x; } break;
    case 'l': case 'm': case 'x': case 'y': memcpy(&v.i, p, 8); break;
    case 'f': { float x; memcpy(&x, p, 4); v.f = x; } break;
    case 'd': memcpy(&v.f, p, 8); break;
    case 'H': { uint16_t x; memcpy(&x, p, 2); v.f = half_to_f(x); } break;
    case 'B': { uint16_t x; memcpy(&x, p, 2); uint32_t u = (uint32_t)x << 16; float g; memcpy(&g, &u, 4); v.f = g; } break;
    default: break;
    }
    return v;
}

static inline double val_f(rv_val v) { return v.isf ? v.f : (double)v.i; }
static inline int64_t val_i(rv_val v) { return v.isf ? (int64_t)v.f : v.i; }

static inline void dt_store(rv_dt t, void *p, rv_val v) {
    switch (t) {
    case 'b': *(uint8_t *)p = v.isf ? v.f != 0 : v.i != 0; break;
    case 'h': case 'a': case 'c': *(uint8_t *)p = (uint8_t)val_i(v); break;
    case 's': case 't': { uint16_t x = (uint16_t)val_i(v); memcpy(p, &x, 2); } break;
    case 'i': case 'j': { uint32_t x = (uint32_t)val_i(v); memcpy(p, &x, 4); } break;
    case 'l': case 'm': case 'x': case 'y': { int64_t x = val_i(v); memcpy(p, &x, 8); } break;
    case 'f': { float x = (float)val_f(v); memcpy(p, &x, 4); } break;
    case 'd': { double x = val_f(v); memcpy(p, &x, 8); } break;
    case 'H': { uint16_t x = f_to_half((float)val_f(v)); memcpy(p, &x, 2); } break;
    case 'B': {
        float g = (float)val_f(v);
        uint32_t u;
        memcpy(&u, &g, 4);
        u += 0x7fff + ((u >> 16) & 1);
        uint16_t x = (uint16_t)(u >> 16);
        memcpy(p, &x, 2);
    } break;
    default: break;
    }
}

/* c10::ScalarType (LoadWithCast/StoreWithCast dtypes) to a type code; 0 when not handled. */
static inline rv_dt dt_from_scalar_type(int st) {
    static const char map[] = {'h', 'a', 's', 'i', 'l', 'H', 'f', 'd', 0, 0, 0, 'b', 0, 0, 0, 'B'};
    return st >= 0 && st < (int)sizeof map ? map[st] : 0;
}

/* Parse one mangled element type at *p (advancing it): its code, or 0 when not an element type. */
static inline rv_dt dt_parse(const char **p) {
    const char *s = *p;
    if (!strncmp(s, "N3c104HalfE", 11)) return *p += 11, 'H';
    if (!strncmp(s, "N3c108BFloat16E", 15)) return *p += 15, 'B';
    if (*s && strchr("bhacstijlmxyfd", *s)) return *p += 1, *s;
    return 0;
}

#endif
