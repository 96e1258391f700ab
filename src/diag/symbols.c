/* Pre-loaded symbol table (see symbols.h). Function names come from the ELF symbol table,
 * file:line from the DWARF line table, module ranges from dl_iterate_phdr. libdw's handles
 * stay open for the life of the process: the table's strings point into its mappings. */
#include "diag/symbols.h"

#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"

typedef struct {
    uintptr_t start, size; /* runtime addresses */
    const char *name;
} func_t;

typedef struct {
    uintptr_t addr;   /* runtime address where the row starts */
    const char *file; /* NULL for an end-of-sequence row */
    int line;
} line_t;

#define MAX_MODULES 128

typedef struct {
    uintptr_t lo, hi;
    char name[128];
} module_t;

static func_t *funcs;
static size_t n_funcs;
static line_t *lines;
static size_t n_lines;
static module_t modules[MAX_MODULES];
static size_t n_modules;
static uintptr_t exe_bias;
static bool loaded;
static Elf *exe_elf;  /* kept open: function names point into its string tables */
static Dwarf *exe_dw; /* kept open: file names point into its line tables */

static int cmp_func(const void *a, const void *b)
{
    const func_t *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_line(const void *a, const void *b)
{
    const line_t *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    /* At equal addresses the end of one sequence sorts before the start of the next. */
    return (x->file != NULL) - (y->file != NULL);
}

static int on_module(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    if (n_modules >= MAX_MODULES)
        return 1;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo)
            lo = a;
        if (a + ph->p_memsz > hi)
            hi = a + ph->p_memsz;
    }
    if (hi == 0)
        return 0;
    module_t *m = &modules[n_modules++];
    m->lo = lo;
    m->hi = hi;
    const char *name = info->dlpi_name && *info->dlpi_name ? info->dlpi_name : "inferd";
    size_t len = strlen(name);
    if (len >= sizeof(m->name))
        name += len - (sizeof(m->name) - 1); /* keep the tail: the file name matters */
    memcpy(m->name, name, strlen(name) + 1);
    if (n_modules == 1)
        exe_bias = info->dlpi_addr; /* the first entry is the executable */
    return 0;
}

static void load_functions(Elf *elf)
{
    size_t cap = 0;
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
            continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
        for (size_t i = 0; data && i < n; i++) {
            GElf_Sym sym;
            if (!gelf_getsym(data, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
                sym.st_value == 0)
                continue;
            const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
            if (!name || !*name)
                continue;
            funcs = inferd_xgrow(funcs, sizeof(*funcs), n_funcs + 1, &cap);
            funcs[n_funcs++] = (func_t){exe_bias + sym.st_value, sym.st_size, name};
        }
    }
    qsort(funcs, n_funcs, sizeof(*funcs), cmp_func);
}

static void load_lines(Dwarf *dw)
{
    size_t cap = 0;
    Dwarf_Off off = 0, next;
    size_t hsize;
    while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
        Dwarf_Die cu;
        Dwarf_Lines *ls;
        size_t n;
        if (dwarf_offdie(dw, off + hsize, &cu) && dwarf_getsrclines(&cu, &ls, &n) == 0) {
            for (size_t i = 0; i < n; i++) {
                Dwarf_Line *l = dwarf_onesrcline(ls, i);
                Dwarf_Addr addr;
                int lineno = 0;
                bool end = false;
                if (!l || dwarf_lineaddr(l, &addr) != 0)
                    continue;
                dwarf_lineno(l, &lineno);
                dwarf_lineendsequence(l, &end);
                const char *file = end ? NULL : dwarf_linesrc(l, NULL, NULL);
                /* Paths are absolute; from the last "/src/" on they read as the repo's. */
                const char *src = file ? strstr(file, "/src/") : NULL;
                if (src)
                    file = src + 1;
                lines = inferd_xgrow(lines, sizeof(*lines), n_lines + 1, &cap);
                lines[n_lines++] = (line_t){exe_bias + (uintptr_t)addr, file, lineno};
            }
        }
        off = next;
    }
    qsort(lines, n_lines, sizeof(*lines), cmp_line);
}

void inferd_symbols_load(void)
{
    if (loaded)
        return;
    loaded = true;
    dl_iterate_phdr(on_module, NULL);
    elf_version(EV_CURRENT);
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    /* The descriptor stays open with the mapping, like exe_elf and exe_dw. */
    exe_elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!exe_elf)
        return;
    load_functions(exe_elf);
    exe_dw = dwarf_begin_elf(exe_elf, DWARF_C_READ, NULL);
    if (exe_dw)
        load_lines(exe_dw);
}

bool inferd_symbols_lookup(uintptr_t pc, inferd_symbol_t *out)
{
    memset(out, 0, sizeof(*out));
    const module_t *m = NULL;
    for (size_t i = 0; i < n_modules && !m; i++)
        if (pc >= modules[i].lo && pc < modules[i].hi)
            m = &modules[i];
    if (!m)
        return false;
    out->module = m->name;
    out->module_offset = pc - (m == &modules[0] ? exe_bias : m->lo);
    if (m != &modules[0])
        return true;

    /* Last function starting at or before pc. */
    size_t lo = 0, hi = n_funcs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (funcs[mid].start <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0) {
        const func_t *f = &funcs[lo - 1];
        if (f->size == 0 || pc < f->start + f->size) {
            out->function = f->name;
            out->function_offset = pc - f->start;
        }
    }
    lo = 0;
    hi = n_lines;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lines[mid].addr <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && lines[lo - 1].file) {
        out->file = lines[lo - 1].file;
        out->line = lines[lo - 1].line;
    }
    return true;
}
