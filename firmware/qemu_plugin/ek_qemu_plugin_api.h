/* ek_qemu_plugin_api.h -- the part of QEMU's TCG plugin API (API version 1, QEMU 7.x) that the
 * edgekit cycle plugin uses, declared here from QEMU's documented interface ("TCG Plugins" in
 * the QEMU manual: docs/devel/tcg-plugins) so the plugin builds without QEMU's development
 * files. Only declarations; QEMU provides the definitions when it loads the plugin.
 *
 * Life cycle: QEMU dlopen()s the plugin, checks the exported qemu_plugin_version, then calls
 * qemu_plugin_install(). The plugin registers a translation callback; at translation time it may
 * attach execution callbacks or inline counters to the block or to single instructions.
 */
#ifndef EK_QEMU_PLUGIN_API_H
#define EK_QEMU_PLUGIN_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EK_QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))

/* The API level this plugin is written against (QEMU 7.2 accepts 0 and 1). */
#define EK_QEMU_PLUGIN_API_VERSION 1

typedef uint64_t qemu_plugin_id_t;

/* What QEMU tells the plugin when it installs it. */
typedef struct {
    const char *target_name; /* e.g. "arm" */
    struct {
        int min; /* oldest API level QEMU supports */
        int cur; /* newest */
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    };
} qemu_info_t;

/* Opaque handles, valid only inside the translation callback. */
struct qemu_plugin_tb;
struct qemu_plugin_insn;

/* Whether a callback reads or writes guest registers (this plugin never does). */
enum qemu_plugin_cb_flags {
    QEMU_PLUGIN_CB_NO_REGS,
    QEMU_PLUGIN_CB_R_REGS,
    QEMU_PLUGIN_CB_RW_REGS,
};

/* Inline operations QEMU can emit into translated code. */
enum qemu_plugin_op {
    QEMU_PLUGIN_INLINE_ADD_U64,
};

/* Which guest memory accesses a memory callback sees. */
enum qemu_plugin_mem_rw {
    QEMU_PLUGIN_MEM_R = 1,
    QEMU_PLUGIN_MEM_W,
    QEMU_PLUGIN_MEM_RW,
};

/* What QEMU tells a memory callback about the access (size, sign, endianness, store). */
typedef uint32_t qemu_plugin_meminfo_t;

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr,
                                          void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

/* Entry points the plugin exports. */
extern EK_QEMU_PLUGIN_EXPORT int qemu_plugin_version;
EK_QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                              int argc, char **argv);

/* Registration. */
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
/* A callback for every guest memory access the instruction makes (its virtual address). */
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_mem_cb_t cb,
                                      enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw, void *userdata);
bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info);
unsigned int qemu_plugin_mem_size_shift(qemu_plugin_meminfo_t info); /* log2 of the access's bytes */
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

/* Translation-time queries. */
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);

/* Text to QEMU's log (stderr unless -D is given). */
void qemu_plugin_outs(const char *string);

#endif /* EK_QEMU_PLUGIN_API_H */
