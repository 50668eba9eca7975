/* symtab.c — naming code addresses for goroutine dumps and panics.
 *
 * dladdr() only knows dynamic symbols, so static functions and the library's own hidden
 * ones would print as "?". This reads the ELF .symtab of the module that holds an address
 * (the executable through /proc/self/exe, shared objects by path), mapped read-only once and
 * kept, and finds the function whose [value, value+size) contains the address. Only
 * open/mmap/fstat are used after start-up, all async-signal-safe, so SIGQUIT dumps name
 * functions too. Stripped modules fall back to dladdr's answer.
 */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt/rt.h"

#define SYMTAB_MODULES 16 /* modules whose tables we keep mapped */

typedef struct {
    uintptr_t base; /* dli_fbase: where the module is loaded */
    uintptr_t bias; /* subtract from an address to get a symbol value */
    const ElfW(Sym) * syms;
    size_t nsyms;
    const char *strs;
    size_t strs_len;
    bool tried;
} symmod;

static symmod mods[SYMTAB_MODULES];
static goc__lock_t symtab_lock;

static void load_module(symmod *m, const char *path, uintptr_t base) {
    m->base = base;
    m->tried = true;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(ElfW(Ehdr))) {
        close(fd);
        return;
    }
    const char *img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (img == MAP_FAILED) return;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)img;
    size_t size = (size_t)st.st_size;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0 ||
        eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > size) {
        munmap((void *)img, size);
        return;
    }
    m->bias = eh->e_type == ET_DYN ? base : 0;
    const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(img + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
        const ElfW(Shdr) *str = &sh[sh[i].sh_link];
        if (sh[i].sh_offset + sh[i].sh_size > size || str->sh_offset + str->sh_size > size) break;
        m->syms = (const ElfW(Sym) *)(img + sh[i].sh_offset);
        m->nsyms = sh[i].sh_size / sizeof(ElfW(Sym));
        m->strs = img + str->sh_offset;
        m->strs_len = str->sh_size;
        return;
    }
    munmap((void *)img, size); /* stripped: nothing to keep */
}

static int find_main(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    uintptr_t lo = UINTPTR_MAX;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD && info->dlpi_phdr[i].p_vaddr < lo)
            lo = info->dlpi_phdr[i].p_vaddr;
    *(uintptr_t *)data = info->dlpi_addr + (lo == UINTPTR_MAX ? 0 : lo);
    return 1; /* the first object is the main program */
}

/* Where the executable's ELF header is mapped (what dladdr reports as its dli_fbase). */
static uintptr_t main_base(void) {
    static uintptr_t base;
    if (!base) dl_iterate_phdr(find_main, &base);
    return base;
}

/* Name the function containing pc. Returns false if nothing is known. */
bool goc__symbolize(uintptr_t pc, const char **name, uintptr_t *off, const char **module) {
    Dl_info info;
    if (!dladdr((void *)pc, &info)) return false;
    *module = info.dli_fname;
    *name = info.dli_sname;
    *off = info.dli_saddr ? pc - (uintptr_t)info.dli_saddr : 0;
    uintptr_t base = (uintptr_t)info.dli_fbase;
    symmod *m = NULL;
    goc__lock(&symtab_lock);
    for (int i = 0; i < SYMTAB_MODULES; i++) {
        if (mods[i].tried && mods[i].base == base) {
            m = &mods[i];
            break;
        }
        if (!mods[i].tried) {
            /* dli_fname names the executable by argv[0]; open it as /proc/self/exe. */
            const char *path = info.dli_fname;
            if (!path || !*path || base == main_base()) path = "/proc/self/exe";
            load_module(&mods[i], path, base);
            m = &mods[i];
            break;
        }
    }
    goc__unlock(&symtab_lock);
    if (!m || !m->syms) return *name != NULL;
    uintptr_t v = pc - m->bias;
    const ElfW(Sym) *best = NULL;
    for (size_t i = 0; i < m->nsyms; i++) {
        const ElfW(Sym) *s = &m->syms[i];
        if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_value == 0) continue;
        if (v >= s->st_value && v < s->st_value + (s->st_size ? s->st_size : 1) &&
            s->st_name < m->strs_len) {
            best = s;
            break;
        }
    }
    if (!best) return *name != NULL;
    *name = m->strs + best->st_name;
    *off = v - best->st_value;
    return true;
}
