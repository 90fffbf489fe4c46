/*
 * Win32 identity and environment for host_os.h: the user this process runs
 * as, another user an elevated host acts for (EM's Run As System on behalf
 * of the logged-on user), that user's profile variables, the process
 * environment in UTF-8, computer name and session.
 */
#include "host_os.h"

#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <sddl.h>
#include <shlobj.h>
#include <userenv.h>

#include "utf8.h"

static const wchar_t profile_list_key[] =
    L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\";

/* --- helpers -------------------------------------------------------------- */
static char *sid_to_string(PSID sid)
{
    wchar_t *w = NULL;
    if (!ConvertSidToStringSidW(sid, &w))
        return NULL;
    char *s = hos_utf16_to_utf8(w, (size_t)-1);
    LocalFree(w);
    return s;
}

/* Account and domain names of a SID, e.g. "alice" and "CONTOSO". */
static int account_of_sid(PSID sid, char **name, char **domain)
{
    wchar_t wname[257], wdomain[257];
    DWORD nlen = 257, dlen = 257;
    SID_NAME_USE use;
    if (!LookupAccountSidW(NULL, sid, wname, &nlen, wdomain, &dlen, &use))
        return -1;
    *name = hos_utf16_to_utf8(wname, (size_t)-1);
    *domain = hos_utf16_to_utf8(wdomain, (size_t)-1);
    return *name && *domain ? 0 : -1;
}

/* The process token's user SID, malloc'd; NULL on failure with *err set. */
static TOKEN_USER *process_token_user(HANDLE token, DWORD *err)
{
    DWORD size = 0;
    GetTokenInformation(token, TokenUser, NULL, 0, &size);
    TOKEN_USER *tu = size ? malloc(size) : NULL;
    if (!tu || !GetTokenInformation(token, TokenUser, tu, size, &size)) {
        *err = tu ? GetLastError() : ERROR_NOT_ENOUGH_MEMORY;
        free(tu);
        return NULL;
    }
    return tu;
}

/* Elevated: a full administrator token (UAC), or SYSTEM. */
static int process_elevated(void)
{
    HANDLE token;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
        return 0;
    TOKEN_ELEVATION e = {0};
    DWORD size = sizeof e;
    int elevated = GetTokenInformation(token, TokenElevation, &e, size, &size) && e.TokenIsElevated;
    CloseHandle(token);
    return elevated;
}

/* The SID string of the process's user, malloc'd, or NULL. */
static char *current_sid(void)
{
    HANDLE token;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
        return NULL;
    DWORD err;
    TOKEN_USER *tu = process_token_user(token, &err);
    CloseHandle(token);
    char *sid = tu ? sid_to_string(tu->User.Sid) : NULL;
    free(tu);
    return sid;
}

/* A string value of the registry as UTF-8, malloc'd, or NULL. REG_EXPAND_SZ
 * is expanded with our environment unless `no_expand`. */
static char *registry_string(HKEY root, const wchar_t *key, const wchar_t *value, int no_expand)
{
    DWORD flags = RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ | (no_expand ? RRF_NOEXPAND : 0);
    DWORD size = 0;
    if (RegGetValueW(root, key, value, flags, NULL, NULL, &size) != ERROR_SUCCESS || size == 0)
        return NULL;
    wchar_t *w = malloc(size + sizeof(wchar_t));
    if (!w)
        return NULL;
    LSTATUS rc = RegGetValueW(root, key, value, flags, NULL, w, &size);
    char *s = rc == ERROR_SUCCESS ? hos_utf16_to_utf8(w, (size_t)-1) : NULL;
    free(w);
    return s;
}

/* Where Windows keeps the profile of a SID: ProfileList\<SID>\ProfileImagePath
 * (REG_EXPAND_SZ, "%SystemDrive%\Users\alice"). */
static char *profile_of_sid(const char *sid)
{
    wchar_t *wsid = hos_utf8_to_utf16(sid);
    if (!wsid)
        return NULL;
    size_t n = wcslen(profile_list_key) + wcslen(wsid) + 1;
    wchar_t *key = malloc(n * sizeof *key);
    char *path = NULL;
    if (key) {
        wcscpy(key, profile_list_key);
        wcscat(key, wsid);
        path = registry_string(HKEY_LOCAL_MACHINE, key, L"ProfileImagePath", 0);
    }
    free(key);
    free(wsid);
    return path;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s\\%s", a, b);
    return s;
}

/* --- users ------------------------------------------------------------------- */
int hos_current_user(hos_user *out, char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char why[256];
    HANDLE token;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) {
        hos_win_error_text(GetLastError(), why, sizeof why);
        snprintf(errbuf, errlen, "cannot open this process's token: %s", why);
        return -1;
    }
    DWORD err = 0;
    TOKEN_USER *tu = process_token_user(token, &err);
    if (!tu) {
        CloseHandle(token);
        hos_win_error_text(err, why, sizeof why);
        snprintf(errbuf, errlen, "cannot read this process's user: %s", why);
        return -1;
    }
    out->sid = sid_to_string(tu->User.Sid);
    if (account_of_sid(tu->User.Sid, &out->name, &out->domain) != 0) {
        hos_win_error_text(GetLastError(), why, sizeof why);
        snprintf(errbuf, errlen, "cannot look up the account of SID %s: %s",
                 out->sid ? out->sid : "?", why);
        free(tu);
        CloseHandle(token);
        hos_user_free(out);
        return -1;
    }
    free(tu);
    /* A USERPROFILE the admin set wins (tests), as HOME does on POSIX. */
    const char *env = hos_getenv("USERPROFILE");
    if (env && *env) {
        out->profile_dir = _strdup(env);
    } else {
        wchar_t dir[MAX_PATH * 4];
        DWORD size = sizeof dir / sizeof dir[0];
        if (GetUserProfileDirectoryW(token, dir, &size))
            out->profile_dir = hos_utf16_to_utf8(dir, (size_t)-1);
        else if (out->sid)
            out->profile_dir = profile_of_sid(out->sid);
    }
    CloseHandle(token);
    out->uid = out->gid = -1;
    out->elevated = process_elevated();
    if (!out->sid || !out->profile_dir) {
        snprintf(errbuf, errlen, "cannot find the profile folder of %s\\%s", out->domain,
                 out->name);
        hos_user_free(out);
        return -1;
    }
    return 0;
}

int hos_lookup_user(const char *name, hos_user *out, char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char why[256];
    wchar_t *wname = hos_utf8_to_utf16(name);
    if (!wname) {
        snprintf(errbuf, errlen, "user name '%s' is not valid UTF-8", name);
        return -1;
    }
    /* "alice" or "CONTOSO\alice"; the SID is what identifies the user. */
    BYTE sid_buf[SECURITY_MAX_SID_SIZE];
    DWORD sid_size = sizeof sid_buf, dlen = 257;
    wchar_t wdomain[257];
    SID_NAME_USE use;
    BOOL found = LookupAccountNameW(NULL, wname, sid_buf, &sid_size, wdomain, &dlen, &use);
    DWORD err = GetLastError();
    free(wname);
    if (!found) {
        hos_win_error_text(err, why, sizeof why);
        snprintf(errbuf, errlen, "no such user account '%s': %s", name, why);
        return -1;
    }
    if (use != SidTypeUser) {
        snprintf(errbuf, errlen, "'%s' is a group or a computer, not a user account", name);
        return -1;
    }
    out->sid = sid_to_string((PSID)sid_buf);
    if (!out->sid || account_of_sid((PSID)sid_buf, &out->name, &out->domain) != 0) {
        snprintf(errbuf, errlen, "cannot look up the account '%s'", name);
        hos_user_free(out);
        return -1;
    }
    out->profile_dir = profile_of_sid(out->sid);
    char *me = out->profile_dir ? NULL : current_sid();
    if (me && strcmp(me, out->sid) == 0) {
        /* Ourselves, named: the token knows the profile even where
         * ProfileList does not (Wine keeps none for its user). */
        hos_user self;
        char ignored[256];
        if (hos_current_user(&self, ignored, sizeof ignored) == 0) {
            out->profile_dir = self.profile_dir;
            self.profile_dir = NULL;
            hos_user_free(&self);
        }
    }
    free(me);
    if (!out->profile_dir) {
        snprintf(errbuf, errlen,
                 "user '%s' (%s) has no profile on this computer (no ProfileImagePath under "
                 "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList): "
                 "they have never logged on here",
                 name, out->sid);
        hos_user_free(out);
        return -1;
    }
    out->uid = out->gid = -1;
    out->elevated = process_elevated();
    return 0;
}

void hos_user_free(hos_user *u)
{
    free(u->name);
    free(u->domain);
    free(u->sid);
    free(u->profile_dir);
    memset(u, 0, sizeof *u);
}

/* --- per-user environment ------------------------------------------------------- */
/* Replaces a leading %USERPROFILE% (any case) by `profile`, then expands what
 * is left (%SystemDrive%, the same for every user) with our environment. */
static char *expand_for_user(const char *value, const char *profile)
{
    static const char token[] = "%USERPROFILE%";
    char *joined = NULL;
    if (_strnicmp(value, token, sizeof token - 1) == 0) {
        size_t n = strlen(profile) + strlen(value);
        if (!(joined = malloc(n)))
            return NULL;
        snprintf(joined, n, "%s%s", profile, value + sizeof token - 1);
        value = joined;
    }
    wchar_t *w = hos_utf8_to_utf16(value);
    char *result = NULL;
    DWORD n = w ? ExpandEnvironmentStringsW(w, NULL, 0) : 0;
    wchar_t *expanded = n ? malloc(n * sizeof *expanded) : NULL;
    if (expanded && ExpandEnvironmentStringsW(w, expanded, n) == n)
        result = hos_utf16_to_utf8(expanded, (size_t)-1);
    free(expanded);
    free(w);
    free(joined);
    return result;
}

/* A shell folder of `u`: this process's user asks the shell (which knows
 * about folder redirection); for another user the shell would need that
 * user's token, which an elevated host does not have, so the folder comes
 * from that user's hive (loaded while they are logged on), else from the
 * default layout of a profile. */
static char *user_folder(const hos_user *u, const KNOWNFOLDERID *id, const wchar_t *shell_value,
                         const char *default_below_profile)
{
    char *me = current_sid();
    int is_me = me && strcmp(me, u->sid) == 0;
    free(me);
    if (is_me) {
        wchar_t *w = NULL;
        char *path = NULL;
        if (SHGetKnownFolderPath(id, KF_FLAG_DONT_VERIFY, NULL, &w) == S_OK)
            path = hos_utf16_to_utf8(w, (size_t)-1);
        CoTaskMemFree(w);
        if (path)
            return path;
    } else {
        wchar_t *wsid = hos_utf8_to_utf16(u->sid);
        static const wchar_t below[] =
            L"\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\User Shell Folders";
        size_t n = wsid ? wcslen(wsid) + wcslen(below) + 1 : 0;
        wchar_t *key = n ? malloc(n * sizeof *key) : NULL;
        char *raw = NULL;
        if (key) {
            wcscpy(key, wsid);
            wcscat(key, below);
            raw = registry_string(HKEY_USERS, key, shell_value, 1);
        }
        free(key);
        free(wsid);
        if (raw) {
            char *path = expand_for_user(raw, u->profile_dir);
            free(raw);
            if (path)
                return path;
        }
    }
    return join(u->profile_dir, default_below_profile);
}

char *hos_user_env(const hos_user *u, const char *name)
{
    if (_stricmp(name, "USERPROFILE") == 0)
        return _strdup(u->profile_dir);
    if (_stricmp(name, "LOCALAPPDATA") == 0)
        return user_folder(u, &FOLDERID_LocalAppData, L"Local AppData", "AppData\\Local");
    if (_stricmp(name, "APPDATA") == 0)
        return user_folder(u, &FOLDERID_RoamingAppData, L"AppData", "AppData\\Roaming");
    if (_stricmp(name, "TEMP") == 0 || _stricmp(name, "TMP") == 0) {
        char *local = user_folder(u, &FOLDERID_LocalAppData, L"Local AppData", "AppData\\Local");
        char *temp = local ? join(local, "Temp") : NULL;
        free(local);
        return temp;
    }
    /* Without a home folder set by the domain, Windows derives these two
     * from the profile: C: and \Users\alice. */
    const char *p = u->profile_dir;
    int on_drive = p[0] && p[1] == ':';
    if (_stricmp(name, "HOMEDRIVE") == 0 && on_drive) {
        char *drive = malloc(3);
        if (drive)
            snprintf(drive, 3, "%c:", p[0]);
        return drive;
    }
    if (_stricmp(name, "HOMEPATH") == 0 && on_drive)
        return _strdup(p[2] ? p + 2 : "\\");
    if (_stricmp(name, "USERNAME") == 0)
        return _strdup(u->name);
    if (_stricmp(name, "USERDOMAIN") == 0)
        return _strdup(u->domain);
    if (_stricmp(name, "COMPUTERNAME") == 0)
        return hos_hostname();
    return NULL;
}

char *hos_user_state_root(const hos_user *u)
{
    char *local = hos_user_env(u, "LOCALAPPDATA");
    char *root = local ? join(local, "emhost") : NULL;
    free(local);
    return root;
}

/* --- environment ------------------------------------------------------------------- */
/* The environment in UTF-8, converted once: hos_getenv hands out borrowed
 * pointers, and the host never changes its own environment (--env overrides
 * live in its own table), so a snapshot taken at first use stays right. */
static INIT_ONCE env_once = INIT_ONCE_STATIC_INIT;
static char **env_utf8;
static size_t env_count;

static BOOL CALLBACK load_environment(PINIT_ONCE once, PVOID param, PVOID *context)
{
    wchar_t *block = GetEnvironmentStringsW();
    if (!block)
        return TRUE;
    size_t n = 0;
    for (const wchar_t *e = block; *e; e += wcslen(e) + 1)
        n++;
    env_utf8 = calloc(n + 1, sizeof *env_utf8);
    for (const wchar_t *e = block; env_utf8 && *e; e += wcslen(e) + 1) {
        /* "=C:=C:\dir" entries are cmd's per-drive directories, not variables. */
        if (e[0] == L'=')
            continue;
        char *entry = hos_utf16_to_utf8(e, (size_t)-1);
        if (entry)
            env_utf8[env_count++] = entry;
    }
    FreeEnvironmentStringsW(block);
    return TRUE;
}

const char *hos_getenv(const char *name)
{
    InitOnceExecuteOnce(&env_once, load_environment, NULL, NULL);
    size_t n = strlen(name);
    for (size_t i = 0; i < env_count; i++)
        if (strncmp(env_utf8[i], name, n) == 0 && env_utf8[i][n] == '=')
            return env_utf8[i] + n + 1;
    for (size_t i = 0; i < env_count; i++)
        if (_strnicmp(env_utf8[i], name, n) == 0 && env_utf8[i][n] == '=')
            return env_utf8[i] + n + 1;
    return NULL;
}

char *hos_hostname(void)
{
    /* The NetBIOS name, as %COMPUTERNAME% and EM's audit events show it. */
    wchar_t name[MAX_COMPUTERNAME_LENGTH + 1];
    DWORD n = MAX_COMPUTERNAME_LENGTH + 1;
    char *s = GetComputerNameW(name, &n) ? hos_utf16_to_utf8(name, n) : NULL;
    return s ? s : _strdup("localhost");
}

uint32_t hos_session_id(void)
{
    DWORD session = 0;
    if (!ProcessIdToSessionId(GetCurrentProcessId(), &session))
        return 0;
    return session;
}
