# Backup-Psts.ps1 - EM PowerShell custom action: back up the user's PSTs
# with pstsnap.dll's rundll32 entry, without holding up Outlook's start.
#
# EM runs this script under Process Started (OUTLOOK.EXE), Run As System
# (VSS needs an elevated process). EM expands $(DataNowHome) and the other
# session variables in the script text before it runs, so they go into the
# command line here; the parameters file holds only what needs no session
# variable. The script writes the parameters to a temp file, starts
# rundll32 and returns at once (exit 0): the backup runs on and reports to
# the Application event log (source "pstsnap") and to the log file below.

$ErrorActionPreference = 'Stop'
$dll         = Join-Path $env:ProgramFiles 'pstsnap\pstsnap.dll'
$destination = '$(DataNowHome)\Outlook Backup'   # expanded by EM before the script runs
$logDir      = Join-Path $env:ProgramData 'pstsnap\logs'

try {
    # Run As System: %LOCALAPPDATA% and %USERNAME% are SYSTEM's here. The
    # user is the one logged on at the console; their profile folder comes
    # from the ProfileList key of their SID.
    $account = (Get-CimInstance Win32_ComputerSystem).UserName
    if (-not $account) { throw 'no user is logged on at the console' }
    $sid = (New-Object Security.Principal.NTAccount $account).Translate(
               [Security.Principal.SecurityIdentifier]).Value
    $profileDir = (Get-ItemProperty ("HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\" + $sid)).ProfileImagePath

    # The action's parameters (schemas/backup-psts.parameters.schema.json).
    $parameters = @{
        destination = $destination
        sources     = @((Join-Path $profileDir 'AppData\Local\Microsoft\Outlook'),
                        (Join-Path $profileDir 'Documents\Outlook Files'))
        snapshot    = 'auto'
        minInterval = '1h'
        verify      = 'quick'
        ioPriority  = 'low'
    }

    if (-not (Test-Path $dll)) { throw "pstsnap is not installed: $dll is missing" }
    New-Item -ItemType Directory -Force -Path $logDir | Out-Null
    $paramsFile = Join-Path ([IO.Path]::GetTempPath()) ("pstsnap-{0}.json" -f [guid]::NewGuid())
    # UTF-8 without a byte order mark: the DLL reads plain UTF-8 JSON.
    [IO.File]::WriteAllText($paramsFile, ($parameters | ConvertTo-Json -Compress),
                            (New-Object Text.UTF8Encoding $false))
    $log = Join-Path $logDir ("{0}.jsonl" -f $sid)
    $state = Join-Path $profileDir 'AppData\Local\pstsnap\pstsnap.BackupPsts'
    # --user-sid: copy only what the user may read, give them the backups,
    # read their Outlook profiles. The parameters file is left in SYSTEM's
    # temp folder (a few hundred bytes): rundll32 reads it after we return.
    $arguments = '"{0}",BackupPsts "{1}" --destination "{2}" --state-dir "{3}" --log "{4}" --user-sid {5}' -f `
                 $dll, $paramsFile, $destination, $state, $log, $sid
    # No -Wait: EM's node timeout (30 s) must never wait for a multi-GB copy.
    Start-Process -FilePath (Join-Path $env:SystemRoot 'System32\rundll32.exe') `
                  -ArgumentList $arguments -WindowStyle Hidden | Out-Null
    exit 0
} catch {
    Write-Error $_
    exit 1
}
