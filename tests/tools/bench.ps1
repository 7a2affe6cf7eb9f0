#Requires -Version 7.2
<#
.SYNOPSIS
The Bench task of build.ps1: measures Test-OpenRelay's speed and memory against nmap's
smtp-open-relay script, run in the same invocation against the same lab hosts.

.DESCRIPTION
Not a test: it prints figures and ratios, it asserts nothing about them. It fails (exit 1) only
when it cannot measure: nmap missing, the lab not starting, a run exiting non-zero.

Starts the embedded lab (tests/TestHelpers.psm1 Start-OmrLab, with a 1 s tarpit) and picks the lab
servers that answer promptly: open, closed, discard, helo-only, reject-session, hangup and the
vuln-* servers, all IPv4 127.66.0.x on the lab's one SMTP port.

Workload A  the same hosts for both tools, each in its own process:
              nmap -Pn -n -T4 -p <port> --script +smtp-open-relay --script-args ... -iL <targets>
              pwsh: Test-OpenRelay -ComputerName <targets> -Port <port> -TimeoutSec 30
            plus a baseline pwsh child that only imports the module, so that the memory and time
            of the PowerShell runtime itself are visible.
Workload B  scale: the same servers repeated to -ScaleTargets targets (nmap scans a target listed
            twice twice, so it runs too), Test-OpenRelay with -ThrottleLimit 256.

Every run is repeated -Repeat times (default 3); the median is reported. Wall-clock time is a
Stopwatch around the child process; peak memory is the child's peak RSS (ru_maxrss via
/usr/bin/time when present, else VmHWM polled from /proc/<pid>/status), and the pwsh child also
reports its own PeakWorkingSet64 (VmHWM).

About nmap's script arguments: smtp-open-relay.from and .to are LOCAL PARTS that the script joins
with smtp-open-relay.domain (default nmap.scanme.org). Passing whole addresses
(from=omr-probe@example.org) makes it send MAIL FROM:<omr-probe@example.org@nmap.scanme.org>,
which no server takes. So the equivalent of Omr's default probe (omr-probe@example.org ->
relay-test@example.net) is from=omr-probe, to=relay-test, domain=example.net. And the script's
portrule only fires on ports 25/465/587 or a port already identified as SMTP; the lab listens on
a random port, so the script is forced with '+smtp-open-relay' (instead of -sV, which would add
service detection to nmap's time).

The same script runs the pwsh child (-Child Omr|Baseline); that mode is internal.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [string] $LabPath,
    [string] $OutputPath,
    [ValidateRange(1, 15)] [int] $Repeat = 3,
    [ValidateRange(1, 100000)] [int] $ScaleTargets = 1000,
    [ValidateRange(1, 10000)] [int] $ScaleThrottleLimit = 256,
    # Measure peak RSS by polling /proc/<pid>/status VmHWM even when /usr/bin/time is present.
    [switch] $PollMemory,

    # Internal: the measured pwsh child.
    [ValidateSet('Omr', 'Baseline')] [string] $Child,
    [string] $TargetsFile,
    [int] $Port,
    [int] $ThrottleLimit,
    [switch] $Summary
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$ResultMarker = 'OMR-BENCH-RESULT '

# ------------------------------------------------------------------------------------------------
# Child mode: one measured pwsh process. Prints one line: OMR-BENCH-RESULT {json}.
# ------------------------------------------------------------------------------------------------
if ($Child) {
    Import-Module $ModulePath -ErrorAction Stop
    $report = [ordered]@{ mode = $Child }
    if ($Child -eq 'Omr') {
        $targets = @(Get-Content -LiteralPath $TargetsFile | Where-Object { $_ })
        $params = @{ ComputerName = $targets; Port = $Port; TimeoutSec = 30; ErrorAction = 'SilentlyContinue'; ErrorVariable = 'omrErrors' }
        if ($ThrottleLimit -gt 0) { $params.ThrottleLimit = $ThrottleLimit }
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $results = @(Test-OpenRelay @params)
        $sw.Stop()
        $report.seconds = $sw.Elapsed.TotalSeconds
        $report.targets = $targets.Count
        $report.results = $results.Count
        $report.errors = @($omrErrors).Count
        $report.testsPerHost = [int]($results | ForEach-Object { @($_.Tests).Count } | Measure-Object -Maximum).Maximum
        $report.verdicts = [ordered]@{}
        foreach ($g in $results | Group-Object { "$($_.Verdict)" }) { $report.verdicts[$g.Name] = $g.Count }
        if (-not $Summary) {
            $report.hosts = @($results | ForEach-Object {
                    [ordered]@{ address = $_.Address; verdict = "$($_.Verdict)"; relayedBy = @($_.RelayedBy); reason = $_.Reason }
                })
        }
    }
    $report.peakWorkingSet = [System.Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64
    [Console]::Out.WriteLine($ResultMarker + ($report | ConvertTo-Json -Compress -Depth 5))
    exit 0
}

# ------------------------------------------------------------------------------------------------
# Bench mode.
# ------------------------------------------------------------------------------------------------
Import-Module (Join-Path $PSScriptRoot '../TestHelpers.psm1') -Force

function Write-Step([string] $Message) { Write-Host "==> $Message" -ForegroundColor Cyan }

$nmap = Get-Command nmap -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
if (-not $nmap) {
    Write-Host 'Bench: nmap is not installed, and the benchmark reports every figure as a ratio against nmap.' -ForegroundColor Red
    Write-Host '   Install it:  sudo apt-get install -y nmap     (tests/lab/install-peers.sh installs it too)' -ForegroundColor Red
    exit 1
}
$nmapPath = $nmap.Source
$nmapVersion = ((& $nmapPath --version 2>$null) | Select-Object -First 1) -replace '\s*\(.*$', ''

$timeTool = if (-not $PollMemory -and (Test-Path -LiteralPath '/usr/bin/time')) { '/usr/bin/time' } else { $null }
if (-not $LabPath) { $LabPath = Get-OmrLabPath }
if (-not $OutputPath) { $OutputPath = Join-Path (Split-Path -Parent (Split-Path -Parent $ModulePath)) 'bench' }
New-Item -ItemType Directory -Force -Path $OutputPath | Out-Null
$OutputPath = (Resolve-Path -LiteralPath $OutputPath).Path
$ModulePath = (Resolve-Path -LiteralPath $ModulePath).Path

# The pwsh that runs this script runs the children too: 'dotnet pwsh' is dotnet + pwsh.dll.
$pwshFile = [Environment]::ProcessPath
$pwshPrefix = @()
if ([IO.Path]::GetFileNameWithoutExtension($pwshFile) -eq 'dotnet') { $pwshPrefix = @([Environment]::GetCommandLineArgs()[0]) }
$pwshDisplay = if ($pwshPrefix) { 'dotnet pwsh' } else { 'pwsh' }

function Invoke-Measured {
    # Runs one process; returns wall-clock seconds (Stopwatch around the process), peak RSS in KiB,
    # exit code and its output.
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [int] $TimeoutSec = 150
    )
    $psi = [System.Diagnostics.ProcessStartInfo]::new()
    $rssFile = $null
    if ($timeTool) {
        $rssFile = [IO.Path]::GetTempFileName()
        $psi.FileName = $timeTool
        foreach ($a in @('-f', '%M', '-o', $rssFile, $FilePath) + $ArgumentList) { $psi.ArgumentList.Add($a) }
    }
    else {
        $psi.FileName = $FilePath
        foreach ($a in $ArgumentList) { $psi.ArgumentList.Add($a) }
    }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true

    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $process = [System.Diagnostics.Process]::Start($psi)
    try {
        $process.StandardInput.Close()
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        $hwm = 0L
        $status = "/proc/$($process.Id)/status"
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
        while (-not $process.WaitForExit(10)) {
            if (-not $timeTool) {
                try {
                    $line = [IO.File]::ReadAllLines($status) | Where-Object { $_ -like 'VmHWM:*' } | Select-Object -First 1
                    if ($line -match '(\d+)\s*kB') { $hwm = [math]::Max($hwm, [long]$Matches[1]) }
                }
                catch { Write-Verbose "poll: $_" }
            }
            if ([DateTime]::UtcNow -gt $deadline) {
                $process.Kill($true)
                throw "'$FilePath' did not finish within $TimeoutSec s."
            }
        }
        $process.WaitForExit()
        $sw.Stop()
        $out = $stdout.GetAwaiter().GetResult()
        $err = $stderr.GetAwaiter().GetResult()
        if ($rssFile) {
            $last = @(Get-Content -LiteralPath $rssFile | Where-Object { $_ -match '^\s*\d+\s*$' }) | Select-Object -Last 1
            if ($last) { $hwm = [long]$last }
        }
        [pscustomobject]@{
            Seconds  = $sw.Elapsed.TotalSeconds
            PeakKiB  = $hwm
            ExitCode = $process.ExitCode
            StdOut   = $out
            StdErr   = $err
        }
    }
    finally {
        $process.Dispose()
        if ($rssFile) { Remove-Item -LiteralPath $rssFile -ErrorAction SilentlyContinue }
    }
}

function Get-Median([double[]] $Values) {
    $sorted = @($Values | Sort-Object)
    $n = $sorted.Count
    if ($n -eq 0) { return [double]::NaN }
    if ($n % 2) { return $sorted[($n - 1) / 2] }
    ($sorted[$n / 2 - 1] + $sorted[$n / 2]) / 2
}

function Read-NmapOutput([string] $Text) {
    # One entry per 'Nmap scan report' block: address, open (bool), tests accepted, the script line.
    $blocks = [regex]::Split($Text, '(?m)^(?=Nmap scan report for )') | Where-Object { $_ -like 'Nmap scan report for *' }
    foreach ($block in $blocks) {
        $address = ([regex]::Match($block, '^Nmap scan report for (\S+)')).Groups[1].Value
        $script = [regex]::Match($block, '(?m)^\|[_ ]smtp-open-relay:\s*(.*?)\s*$')
        $line = if ($script.Success) { $script.Groups[1].Value } else { '(script did not run)' }
        $open = $line -match 'Server is an open relay \((\d+)/16'
        [pscustomobject]@{
            Address  = $address
            Open     = $open
            Accepted = if ($open) { [int]$Matches[1] } else { 0 }
            Line     = $line
            Error    = -not $open -and $line -notlike "Server doesn't seem to be an open relay*"
        }
    }
}

function Invoke-Nmap([string] $Targets, [int] $Count) {
    $run = Invoke-Measured -FilePath $nmapPath -ArgumentList ($nmapArgs + @('-iL', $Targets))
    if ($run.ExitCode -ne 0) { throw "nmap exited $($run.ExitCode): $($run.StdErr)" }
    $hosts = @(Read-NmapOutput $run.StdOut)
    if ($hosts.Count -ne $Count) { throw "nmap reported $($hosts.Count) hosts, $Count expected. Output: $($run.StdOut)" }
    $run | Add-Member -NotePropertyName Hosts -NotePropertyValue $hosts -PassThru
}

function Invoke-PwshChild([string[]] $ChildArguments) {
    $arguments = $pwshPrefix + @('-NoProfile', '-NonInteractive', '-File', $PSCommandPath, '-ModulePath', $ModulePath) + $ChildArguments
    $run = Invoke-Measured -FilePath $pwshFile -ArgumentList $arguments
    $line = @($run.StdOut -split "`r?`n" | Where-Object { $_.StartsWith($ResultMarker) }) | Select-Object -Last 1
    if ($run.ExitCode -ne 0 -or -not $line) {
        throw "The pwsh child ($($ChildArguments -join ' ')) exited $($run.ExitCode) without a result.`n$($run.StdOut)`n$($run.StdErr)"
    }
    $report = $line.Substring($ResultMarker.Length) | ConvertFrom-Json
    if (-not $timeTool -or $run.PeakKiB -le 0) { $run.PeakKiB = [long]($report.peakWorkingSet / 1KB) }
    $run | Add-Member -NotePropertyName Report -NotePropertyValue $report -PassThru
}

function New-Row([string] $Tool, [string] $Workload, [int] $Hosts, $TestsPerHost, [double] $Seconds, [double] $PeakKiB, [object[]] $Runs) {
    $perSecond = $Hosts -gt 0 -and $Seconds -gt 0
    [pscustomobject]@{
        Tool          = $Tool
        Workload      = $Workload
        Hosts         = $Hosts
        'Tests/host'  = $TestsPerHost
        'Median s'    = '{0:N2}' -f $Seconds
        'Hosts/s'     = if ($perSecond) { '{0:N0}' -f ($Hosts / $Seconds) } else { '-' }
        'Tests/s'     = if ($perSecond -and $TestsPerHost -is [int]) { '{0:N0}' -f ($Hosts * $TestsPerHost / $Seconds) } else { '-' }
        'Peak RSS MB' = '{0:N1}' -f ($PeakKiB / 1024)
        'Runs s'      = if ($Runs) { ($Runs | ForEach-Object { '{0:N2}' -f $_.Seconds }) -join ' ' } else { '' }
        Seconds       = $Seconds
        PeakKiB       = $PeakKiB
    }
}

function Get-Row([string] $Tool, [string] $Workload, [int] $Hosts, $TestsPerHost, [object[]] $Runs) {
    New-Row $Tool $Workload $Hosts $TestsPerHost (Get-Median @($Runs | ForEach-Object Seconds)) (Get-Median @($Runs | ForEach-Object PeakKiB)) $Runs
}

function Write-Table([Parameter(ValueFromPipeline)] $InputObject, [string[]] $Property) {
    end {
        $columns = foreach ($p in $Property) {
            if ($p -in 'Hosts', 'Tests/host', 'Median s', 'Hosts/s', 'Tests/s', 'Peak RSS MB') { @{ Expression = $p; Alignment = 'Right' } }
            elseif ($p -like '*/nmap') { @{ Expression = $p; Alignment = 'Right' } }
            else { $p }
        }
        $text = $input | Format-Table -Property $columns -AutoSize | Out-String -Width 220
        Write-Host ''
        Write-Host $text.Trim("`r", "`n")
        Write-Host ''
    }
}

function Format-Ratio([double] $Numerator, [double] $Denominator) {
    if ($Denominator -le 0) { return 'n/a' }
    '{0:N2}x' -f ($Numerator / $Denominator)
}

$benchWatch = [System.Diagnostics.Stopwatch]::StartNew()
$wanted = @('open', 'closed', 'discard', 'helo-only', 'reject-session', 'hangup')

Write-Step 'Starting the lab: dotnet out/lab/Omr.Lab.dll --smtp-port 0 --tarpit-sec 1'
$lab = Start-OmrLab -LabPath $LabPath -ArgumentList '--smtp-port', '0', '--tarpit-sec', '1'
try {
    $servers = @($lab.servers | Where-Object {
            ($_.name -in $wanted -or $_.name -like 'vuln-*') -and $_.address -match '^\d+\.\d+\.\d+\.\d+$'
        })
    foreach ($w in $wanted) { if ($w -notin @($servers | ForEach-Object name)) { Write-Warning "The lab has no server '$w'." } }
    if ($servers.Count -eq 0) { throw 'No lab server to benchmark.' }
    $byAddress = @{}
    foreach ($s in $servers) { $byAddress[$s.address] = $s }
    $port = [int]$lab.smtpPort
    Write-Host "   SMTP port $port; $($servers.Count) servers: $(($servers | ForEach-Object name) -join ', ')"

    $targetsA = Join-Path $OutputPath 'targets-a.txt'
    Set-Content -LiteralPath $targetsA -Value @($servers | ForEach-Object address)
    $targetsB = Join-Path $OutputPath 'targets-b.txt'
    Set-Content -LiteralPath $targetsB -Value @(0..($ScaleTargets - 1) | ForEach-Object { $servers[$_ % $servers.Count].address })

    $nmapArgs = @('-Pn', '-n', '-T4', '-p', "$port", '--script', '+smtp-open-relay',
        '--script-args', 'smtp-open-relay.from=omr-probe,smtp-open-relay.to=relay-test,smtp-open-relay.domain=example.net')
    $relOut = Resolve-Path -Relative -LiteralPath $OutputPath
    $nmapCommand = { param($f) "nmap $($nmapArgs -join ' ') -iL $relOut/$f" }
    $omrCommand = { param($f, $extra) "$pwshDisplay -NoProfile -File tests/tools/bench.ps1 -Child Omr   # Import-Module out/Omr/Omr.psd1; Test-OpenRelay -ComputerName (Get-Content $relOut/$f) -Port $port -TimeoutSec 30$extra" }
    $baseCommand = "$pwshDisplay -NoProfile -File tests/tools/bench.ps1 -Child Baseline   # Import-Module out/Omr/Omr.psd1 only"

    Write-Host "   $nmapVersion; $(if ($timeTool) { "peak RSS = ru_maxrss via $timeTool" } else { 'peak RSS = VmHWM polled from /proc (no /usr/bin/time: apt-get install -y time)' })"
    Write-Host "   One untimed warm-up run of each child, then $Repeat timed runs of each, interleaved; median reported. Outputs in $relOut/"
    $load = Get-Content -LiteralPath '/proc/loadavg' -ErrorAction SilentlyContinue
    Write-Host "   $([Environment]::ProcessorCount) CPUs; load average before: $(if ($load) { ($load -split ' ')[0..2] -join ' ' } else { '?' }) (other work on the machine skews the figures)"

    # --- Workload A ------------------------------------------------------------------------------
    Write-Step "Workload A: $($servers.Count) hosts, both tools"
    Write-Host "   $(& $nmapCommand 'targets-a.txt')" -ForegroundColor DarkGray
    Write-Host "   $(& $omrCommand 'targets-a.txt' '')" -ForegroundColor DarkGray
    Write-Host "   $baseCommand" -ForegroundColor DarkGray
    $nmapA = [System.Collections.Generic.List[object]]::new()
    $omrA = [System.Collections.Generic.List[object]]::new()
    $baseA = [System.Collections.Generic.List[object]]::new()
    # Warm-up (not counted): the first start after a build pays for cold files.
    $null = Invoke-Nmap $targetsA $servers.Count
    $null = Invoke-PwshChild @('-Child', 'Omr', '-TargetsFile', $targetsA, '-Port', "$port")
    for ($i = 1; $i -le $Repeat; $i++) {
        $nmapA.Add((Invoke-Nmap $targetsA $servers.Count))
        $omrA.Add((Invoke-PwshChild @('-Child', 'Omr', '-TargetsFile', $targetsA, '-Port', "$port")))
        $baseA.Add((Invoke-PwshChild @('-Child', 'Baseline')))
        Write-Host ("   run {0}: nmap {1:N2} s {2:N1} MB | Omr {3:N2} s {4:N1} MB (Test-OpenRelay itself {5:N2} s) | baseline {6:N2} s {7:N1} MB" -f $i,
            $nmapA[-1].Seconds, ($nmapA[-1].PeakKiB / 1024), $omrA[-1].Seconds, ($omrA[-1].PeakKiB / 1024), $omrA[-1].Report.seconds,
            $baseA[-1].Seconds, ($baseA[-1].PeakKiB / 1024))
    }
    $nmapA[-1].StdOut | Set-Content -LiteralPath (Join-Path $OutputPath 'nmap-a.txt')
    foreach ($r in $omrA) {
        if ($r.Report.results -ne $servers.Count) { throw "Test-OpenRelay returned $($r.Report.results) results for $($servers.Count) hosts ($($r.Report.errors) errors)." }
    }

    # --- Workload B ------------------------------------------------------------------------------
    Write-Step "Workload B: $ScaleTargets targets (the $($servers.Count) servers repeated), -ThrottleLimit $ScaleThrottleLimit"
    Write-Host "   $(& $nmapCommand 'targets-b.txt')" -ForegroundColor DarkGray
    Write-Host "   $(& $omrCommand 'targets-b.txt' " -ThrottleLimit $ScaleThrottleLimit")" -ForegroundColor DarkGray
    Write-Host '   (nmap 7.x scans a target listed twice twice - --unique would collapse them - so it runs the same list.)' -ForegroundColor DarkGray
    $nmapB = [System.Collections.Generic.List[object]]::new()
    $omrB = [System.Collections.Generic.List[object]]::new()
    for ($i = 1; $i -le $Repeat; $i++) {
        $nmapB.Add((Invoke-Nmap $targetsB $ScaleTargets))
        $omrB.Add((Invoke-PwshChild @('-Child', 'Omr', '-TargetsFile', $targetsB, '-Port', "$port", '-ThrottleLimit', "$ScaleThrottleLimit", '-Summary')))
        Write-Host ("   run {0}: nmap {1:N2} s {2:N1} MB | Omr {3:N2} s {4:N1} MB (Test-OpenRelay itself {5:N2} s)" -f $i,
            $nmapB[-1].Seconds, ($nmapB[-1].PeakKiB / 1024), $omrB[-1].Seconds, ($omrB[-1].PeakKiB / 1024), $omrB[-1].Report.seconds)
    }
    $nmapB[-1].StdOut | Set-Content -LiteralPath (Join-Path $OutputPath 'nmap-b.txt')
    foreach ($r in $omrB) {
        if ($r.Report.results -ne $ScaleTargets) { throw "Test-OpenRelay returned $($r.Report.results) results for $ScaleTargets targets ($($r.Report.errors) errors)." }
    }
}
finally {
    Stop-OmrLab $lab
}

# --- Findings: what each tool called an open relay (workload A, last run) ----------------------
Write-Step "Workload A findings (last run): who calls which host an open relay"
$nmapHosts = @{}
foreach ($h in $nmapA[-1].Hosts) { $nmapHosts[$h.Address] = $h }
$omrHosts = @{}
foreach ($h in $omrA[-1].Report.hosts) { $omrHosts[$h.address] = $h }
$rows = foreach ($s in $servers) {
    $n = $nmapHosts[$s.address]
    $o = $omrHosts[$s.address]
    $nmapSays = if (-not $n) { '(no report)' } elseif ($n.Open) { "open relay ($($n.Accepted)/16)" } elseif ($n.Error) { "error: $($n.Line)" } else { 'not open' }
    $omrSays = if (-not $o) { '(no result)' } elseif ($o.verdict -eq 'Open') { "Open ($(@($o.relayedBy).Count)/25)" } else { $o.verdict }
    $agree = [bool]($n -and $n.Open) -eq [bool]($o -and $o.verdict -eq 'Open')
    [pscustomobject]@{
        Server     = $s.name
        Address    = $s.address
        'Lab says' = $s.expectedVerdict
        nmap       = if ($nmapSays.Length -gt 58) { $nmapSays.Substring(0, 55) + '...' } else { $nmapSays }
        Omr        = $omrSays
        Agree      = if ($agree) { 'yes' } else { 'NO' }
        OmrOpen    = [bool]($o -and $o.verdict -eq 'Open')
        NmapOpen   = [bool]($n -and $n.Open)
        OmrRelayed = if (-not $o) { '' } elseif (@($o.relayedBy).Count -le 3) { @($o.relayedBy) -join ', ' } else { "$(@($o.relayedBy).Count) tests ($((@($o.relayedBy) | Select-Object -First 3) -join ', '), ...)" }
    }
}
$rows | Write-Table -Property Server, Address, 'Lab says', nmap, Omr, Agree
$both = @($rows | Where-Object { $_.OmrOpen -and $_.NmapOpen })
$omrOnly = @($rows | Where-Object { $_.OmrOpen -and -not $_.NmapOpen })
$nmapOnly = @($rows | Where-Object { $_.NmapOpen -and -not $_.OmrOpen })
$neither = @($rows | Where-Object { -not $_.NmapOpen -and -not $_.OmrOpen })
$labOpen = @($rows | Where-Object { $_.'Lab says' -eq 'Open' })
Write-Host ("   Open relays: nmap {0} of {1} hosts, Omr {2} of {1} (lab manifest: {3}). Both: {4}; Omr only: {5}; nmap only: {6}; neither: {7}." -f
    @($rows | Where-Object NmapOpen).Count, $rows.Count, @($rows | Where-Object OmrOpen).Count, $labOpen.Count,
    $both.Count, $omrOnly.Count, $nmapOnly.Count, $neither.Count)
foreach ($r in $omrOnly) { Write-Host "   Omr only: $($r.Server) ($($r.Address)) relayed by $($r.OmrRelayed); nmap: $($r.nmap)" }
foreach ($r in $nmapOnly) { Write-Host "   nmap only: $($r.Server) ($($r.Address)); Omr: $($r.Omr)" -ForegroundColor Yellow }
foreach ($r in @($rows | Where-Object { $_.'Lab says' -eq 'Open' -and -not $_.OmrOpen })) {
    Write-Host "   Lab expects Open but Omr says $($r.Omr): $($r.Server) ($($r.Address)) - the lab's verdict assumes the domain is known; -ComputerName gives Omr only the address." -ForegroundColor Yellow
}
$nmapOpenB = @($nmapB[-1].Hosts | Where-Object Open).Count
$omrOpenB = [int]($omrB[-1].Report.verdicts.PSObject.Properties | Where-Object Name -EQ 'Open' | ForEach-Object Value)
Write-Host "   Workload B (last run): nmap called $nmapOpenB of $ScaleTargets targets open relays, Omr $omrOpenB (Omr verdicts: $(($omrB[-1].Report.verdicts.PSObject.Properties | ForEach-Object { "$($_.Value) $($_.Name)" }) -join ', '))."

# --- The table ---------------------------------------------------------------------------------
$omrTests = [int]$omrA[-1].Report.testsPerHost
$rA = Get-Row 'nmap' 'A' $servers.Count 16 $nmapA
$oA = Get-Row 'Omr' 'A' $servers.Count $omrTests $omrA
$bA = Get-Row 'pwsh baseline (import only)' 'A' 0 '-' $baseA
$rB = Get-Row 'nmap' 'B' $ScaleTargets 16 $nmapB
$oB = Get-Row 'Omr' "B (throttle $ScaleThrottleLimit)" $ScaleTargets $omrTests $omrB
# What Test-OpenRelay itself costs: its own Stopwatch inside the child (process start-up and module
# import excluded; subtracting the baseline's wall clock instead is too noisy) and the child's peak
# RSS above the baseline's.
$inProcA = Get-Median @($omrA | ForEach-Object { $_.Report.seconds })
$inProcB = Get-Median @($omrB | ForEach-Object { $_.Report.seconds })
$incA = New-Row 'Omr: Test-OpenRelay only' 'A' $servers.Count $omrTests $inProcA ($oA.PeakKiB - $bA.PeakKiB) @()
$incB = New-Row 'Omr: Test-OpenRelay only' 'B' $ScaleTargets $omrTests $inProcB ($oB.PeakKiB - $bA.PeakKiB) @()
$incA.'Runs s' = ($omrA | ForEach-Object { '{0:N2}' -f $_.Report.seconds }) -join ' '
$incB.'Runs s' = ($omrB | ForEach-Object { '{0:N2}' -f $_.Report.seconds }) -join ' '

Write-Step "Results (median of $Repeat; wall clock per process; peak RSS per process)"
@($rA, $oA, $bA, $incA, $rB, $oB, $incB) |
    Write-Table -Property Tool, Workload, Hosts, 'Tests/host', 'Median s', 'Hosts/s', 'Tests/s', 'Peak RSS MB', 'Runs s'

$ratios = @(
    [pscustomobject]@{ Workload = "A ($($servers.Count) hosts)"; 'Time Omr/nmap' = Format-Ratio $oA.Seconds $rA.Seconds; 'Memory Omr/nmap' = Format-Ratio $oA.PeakKiB $rA.PeakKiB
        'Time (Test-OpenRelay only)/nmap' = Format-Ratio $inProcA $rA.Seconds; 'Memory (Omr-baseline)/nmap' = Format-Ratio ($oA.PeakKiB - $bA.PeakKiB) $rA.PeakKiB
    }
    [pscustomobject]@{ Workload = "B ($ScaleTargets targets)"; 'Time Omr/nmap' = Format-Ratio $oB.Seconds $rB.Seconds; 'Memory Omr/nmap' = Format-Ratio $oB.PeakKiB $rB.PeakKiB
        'Time (Test-OpenRelay only)/nmap' = Format-Ratio $inProcB $rB.Seconds; 'Memory (Omr-baseline)/nmap' = Format-Ratio ($oB.PeakKiB - $bA.PeakKiB) $rB.PeakKiB
    }
)
$ratios | Write-Table -Property Workload, 'Time Omr/nmap', 'Memory Omr/nmap', 'Time (Test-OpenRelay only)/nmap', 'Memory (Omr-baseline)/nmap'
Write-Host "   Below 1x means Omr is faster / smaller. Omr runs $omrTests relay tests per host, nmap's script 16."
Write-Host '   Whole-process rows: a Stopwatch around the child process, its peak RSS. The baseline child starts pwsh and imports the module, nothing more.'
Write-Host "   'Test-OpenRelay only': the cmdlet's own time (a Stopwatch around it inside the child) and the child's peak RSS minus the baseline's;"
Write-Host "   its time ratio compares that with the whole nmap process, nmap's own start-up included."
$inner = "   The child's own PeakWorkingSet64 (VmHWM, median): Omr A {0:N1} MB, Omr B {1:N1} MB, baseline {2:N1} MB." -f
((Get-Median @($omrA | ForEach-Object { $_.Report.peakWorkingSet })) / 1MB), ((Get-Median @($omrB | ForEach-Object { $_.Report.peakWorkingSet })) / 1MB),
((Get-Median @($baseA | ForEach-Object { $_.Report.peakWorkingSet })) / 1MB)
Write-Host $inner
Write-Host ''
Write-Host 'Commands run (each in its own process, from the repository root):'
Write-Host "   A: $(& $nmapCommand 'targets-a.txt')"
Write-Host "   A: $(& $omrCommand 'targets-a.txt' '')"
Write-Host "   A: $baseCommand"
Write-Host "   B: $(& $nmapCommand 'targets-b.txt')"
Write-Host "   B: $(& $omrCommand 'targets-b.txt' " -ThrottleLimit $ScaleThrottleLimit")"
if ($timeTool) { Write-Host "   each wrapped in: $timeTool -f %M -o <file>   (peak RSS, KiB)" }
Write-Host ("Bench done in {0:N0} s." -f $benchWatch.Elapsed.TotalSeconds)
exit 0
