/* revati driver: the (name, ABI version) -> symbol table behind cuGetProcAddress (rows in gen/). */
#ifndef REVATI_DRIVER_PROC_TABLE_H
#define REVATI_DRIVER_PROC_TABLE_H

typedef struct rv_proc_entry {
    const char *name; /* the unversioned API name, e.g. "cuCtxCreate" */
    int version;      /* the ABI version of the PFN typedef, e.g. 3020 */
    int per_thread;   /* 1 for the _ptds/_ptsz (per-thread default stream) flavour */
    void *fn;         /* the exported symbol that implements it */
} rv_proc_entry;

extern const rv_proc_entry rv_proc_table[];
extern const int rv_proc_table_len;

#endif
