/* Win32 implementation of platform.h: PSTs named in the user's Outlook
 * profiles (registry).
 *
 * Outlook keeps one key per message store under each profile:
 *   <root>\<profile>\<32 hex digits>  value 001f6700 (REG_BINARY, the store
 *   path in UTF-16LE, NUL-terminated) or, from ANSI-era Outlook, 001e6700
 *   (the path in the system code page).
 * Roots: Office 16.0 (2016/2019/2021/365), 15.0 (2013), and the Windows
 * Messaging Subsystem key of Outlook 2010 and older. Microsoft calls this
 * layout internal, so anything unexpected is skipped, never an error: the
 * source folders still cover the default locations.
 */
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "pf_win32.h"

static const wchar_t *const profile_roots[] = {
    L"Software\\Microsoft\\Office\\16.0\\Outlook\\Profiles",
    L"Software\\Microsoft\\Office\\15.0\\Outlook\\Profiles",
    L"Software\\Microsoft\\Windows NT\\CurrentVersion\\Windows Messaging Subsystem\\Profiles",
};

/* A store path is a file path: anything longer than this is not one. */
#define MAX_VALUE_BYTES (64 * 1024)

void pf_path_list_free(pf_path_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        free(list->paths[i]);
    free(list->paths);
    list->paths = NULL;
    list->count = 0;
}

static int is_store_key(const wchar_t *name)
{
    if (wcslen(name) != 32)
        return 0;
    for (const wchar_t *c = name; *c; c++)
        if (!iswxdigit(*c))
            return 0;
    return 1;
}

static int ends_with_pst(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && _stricmp(path + n - 4, ".pst") == 0;
}

/* Add `path` unless already listed (Windows names compare without case). */
static ps_status add_path(pf_path_list *out, char *path, ps_err *err)
{
    wchar_t *b = pfw_utf16(path);
    for (size_t i = 0; b && i < out->count; i++) {
        wchar_t *a = pfw_utf16(out->paths[i]);
        int same = a && CompareStringOrdinal(a, -1, b, -1, TRUE) == CSTR_EQUAL;
        free(a);
        if (same) {
            free(b);
            free(path);
            return PS_OK;
        }
    }
    free(b);
    char **grown = realloc(out->paths, (out->count + 1) * sizeof *grown);
    if (!grown) {
        free(path);
        return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    out->paths = grown;
    out->paths[out->count++] = path;
    return PS_OK;
}

/* The store path in one message-store key, UTF-8, or NULL. */
static char *store_path(HKEY store)
{
    BYTE *data = NULL;
    char *path = NULL;
    static const wchar_t *const names[] = {L"001f6700", L"001e6700"};
    for (size_t k = 0; k < 2 && !path; k++) {
        DWORD type = 0, size = 0;
        if (RegQueryValueExW(store, names[k], NULL, &type, NULL, &size) != ERROR_SUCCESS ||
            type != REG_BINARY || size == 0 || size > MAX_VALUE_BYTES)
            continue;
        data = malloc(size + 2);
        if (!data || RegQueryValueExW(store, names[k], NULL, &type, data, &size) != ERROR_SUCCESS) {
            free(data);
            data = NULL;
            continue;
        }
        data[size] = data[size + 1] = 0;
        if (k == 0) {
            /* UTF-16LE, which is how Windows keeps wchar_t in memory. */
            wchar_t *w = malloc((size / 2 + 1) * sizeof *w);
            if (w) {
                memcpy(w, data, size / 2 * sizeof *w);
                w[size / 2] = 0;
                path = pfw_utf8(w, (size_t)-1);
                free(w);
            }
        } else {
            /* The system's ANSI code page, as the ANSI Outlook wrote it. */
            int n = MultiByteToWideChar(CP_ACP, 0, (const char *)data, -1, NULL, 0);
            wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
            if (w && MultiByteToWideChar(CP_ACP, 0, (const char *)data, -1, w, n) == n)
                path = pfw_utf8(w, (size_t)-1);
            free(w);
        }
        free(data);
        data = NULL;
    }
    if (path && (!*path || !ends_with_pst(path) || !pf_is_absolute(path))) {
        free(path); /* an OST, an empty slot, or nothing we can find again */
        path = NULL;
    }
    return path;
}

static ps_status scan_profile(HKEY profile, pf_path_list *out, ps_err *err)
{
    wchar_t name[256];
    for (DWORD i = 0;; i++) {
        DWORD len = 256;
        LONG rc = RegEnumKeyExW(profile, i, name, &len, NULL, NULL, NULL, NULL);
        if (rc == ERROR_NO_MORE_ITEMS)
            return PS_OK;
        if (rc != ERROR_SUCCESS)
            continue; /* a name longer than any store key */
        if (!is_store_key(name))
            continue;
        HKEY store;
        if (RegOpenKeyExW(profile, name, 0, KEY_QUERY_VALUE, &store) != ERROR_SUCCESS)
            continue;
        char *path = store_path(store);
        RegCloseKey(store);
        if (path) {
            ps_status s = add_path(out, path, err);
            if (s != PS_OK)
                return s;
        }
    }
}

static ps_status scan_root(HKEY hive, const wchar_t *root, pf_path_list *out, ps_err *err)
{
    HKEY profiles;
    if (RegOpenKeyExW(hive, root, 0, KEY_READ, &profiles) != ERROR_SUCCESS)
        return PS_OK; /* this Outlook version was never set up */
    wchar_t name[256];
    ps_status s = PS_OK;
    for (DWORD i = 0; s == PS_OK; i++) {
        DWORD len = 256;
        LONG rc = RegEnumKeyExW(profiles, i, name, &len, NULL, NULL, NULL, NULL);
        if (rc == ERROR_NO_MORE_ITEMS)
            break;
        HKEY profile;
        if (rc != ERROR_SUCCESS ||
            RegOpenKeyExW(profiles, name, 0, KEY_READ, &profile) != ERROR_SUCCESS)
            continue;
        s = scan_profile(profile, out, err);
        RegCloseKey(profile);
    }
    RegCloseKey(profiles);
    return s;
}

/* Well-formed "S-1-..." only: the SID becomes part of a registry path. */
static int sid_valid(const char *sid)
{
    if (strncmp(sid, "S-1-", 4) != 0 || strlen(sid) > 184)
        return 0;
    for (const char *c = sid + 4; *c; c++)
        if (!((*c >= '0' && *c <= '9') || *c == '-'))
            return 0;
    return 1;
}

ps_status pf_outlook_profile_psts(const char *user_sid, pf_path_list *out, ps_err *err)
{
    out->paths = NULL;
    out->count = 0;
    HKEY hive = HKEY_CURRENT_USER;
    int close_hive = 0;
    if (user_sid) {
        /* Elevated for a logged-on user: HKCU would be SYSTEM's hive. The
         * user's own is loaded under HKEY_USERS\<SID> while they are
         * logged on. */
        if (!sid_valid(user_sid))
            return ps_err_set(err, PS_ERR_INVALID, "'%s' is not a Windows SID", user_sid);
        wchar_t *wsid = pfw_utf16(user_sid);
        LONG rc = wsid ? RegOpenKeyExW(HKEY_USERS, wsid, 0, KEY_READ, &hive) : ERROR_OUTOFMEMORY;
        free(wsid);
        if (rc == ERROR_FILE_NOT_FOUND)
            return ps_err_set(err, PS_ERR_NOTFOUND,
                              "the registry of user %s is not loaded (not logged on?): their "
                              "Outlook profiles cannot be read",
                              user_sid);
        if (rc != ERROR_SUCCESS)
            return pfw_err(err, (DWORD)rc, "cannot open the registry of user", user_sid);
        close_hive = 1;
    }
    ps_status s = PS_OK;
    for (size_t r = 0; s == PS_OK && r < sizeof profile_roots / sizeof profile_roots[0]; r++)
        s = scan_root(hive, profile_roots[r], out, err);
    if (close_hive)
        RegCloseKey(hive);
    if (s != PS_OK)
        pf_path_list_free(out);
    return s;
}
