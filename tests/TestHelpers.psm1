# Helpers shared by the Pester tests (tests/*.Tests.ps1) and tools/Demo.ps1.
# The tests always exercise the BUILT module (out/Omr/Omr.psd1) and the built lab
# (out/lab/Omr.Lab.dll); build.ps1 passes their paths in OMR_MODULE / OMR_LAB.

Set-StrictMode -Version Latest

$RepoRoot = Split-Path -Parent $PSScriptRoot

function Get-OmrModulePath {
    [CmdletBinding()]
    [OutputType([string])]
    param()
    if ($env:OMR_MODULE) { return $env:OMR_MODULE }
    Join-Path $RepoRoot 'out/Omr/Omr.psd1'
}

function Get-OmrLabPath {
    [CmdletBinding()]
    [OutputType([string])]
    param()
    if ($env:OMR_LAB) { return $env:OMR_LAB }
    Join-Path $RepoRoot 'out/lab/Omr.Lab.dll'
}

function Import-OmrModule {
    # Imports the built module into the caller's session (global scope so Pester's blocks see it).
    [CmdletBinding()]
    param()
    $path = Get-OmrModulePath
    if (-not (Test-Path -LiteralPath $path)) {
        throw "The built module is missing at '$path': run 'dotnet pwsh ./build.ps1 Build' first."
    }
    Import-Module -Name $path -Force -Global -ErrorAction Stop
}

function Start-OmrLab {
    <#
    .SYNOPSIS
    Starts the in-process SMTP/DNS lab (dotnet out/lab/Omr.Lab.dll --smtp-port 0) and returns its
    manifest (the JSON line it prints) with the process attached as 'Process'.
    .DESCRIPTION
    The lab runs until its standard input is closed: Stop-OmrLab does that. Its standard error is
    drained in the background (available as .StandardErrorTask).
    #>
    [CmdletBinding()]
    param(
        [string] $LabPath = (Get-OmrLabPath),
        [string[]] $ArgumentList = @('--smtp-port', '0'),
        [int] $TimeoutSec = 60
    )
    if (-not (Test-Path -LiteralPath $LabPath)) {
        throw "The lab is missing at '$LabPath': run 'dotnet pwsh ./build.ps1 Build' first."
    }

    $psi = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
    $psi.ArgumentList.Add($LabPath)
    foreach ($a in $ArgumentList) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.WorkingDirectory = Split-Path -Parent $LabPath

    $process = [System.Diagnostics.Process]::Start($psi)
    $stderr = $process.StandardError.ReadToEndAsync()
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    $manifestLine = $null
    $seen = [System.Collections.Generic.List[string]]::new()
    try {
        while (-not $manifestLine) {
            $remaining = $deadline - [DateTime]::UtcNow
            if ($remaining -le [TimeSpan]::Zero) {
                throw "The lab printed no manifest within $TimeoutSec s."
            }
            $read = $process.StandardOutput.ReadLineAsync()
            if (-not $read.Wait($remaining)) {
                throw "The lab printed no manifest within $TimeoutSec s."
            }
            $line = $read.Result
            if ($null -eq $line) {
                $process.WaitForExit(5000) | Out-Null
                throw "The lab exited (code $(if ($process.HasExited) { $process.ExitCode } else { '?' })) before printing its manifest."
            }
            if ($line.TrimStart().StartsWith('{')) { $manifestLine = $line } else { $seen.Add($line) }
        }
        $manifest = $manifestLine | ConvertFrom-Json
    }
    catch {
        $message = $_.Exception.Message
        try { if (-not $process.HasExited) { $process.Kill($true) } } catch { Write-Verbose "kill: $_" }
        $process.WaitForExit(5000) | Out-Null
        $errText = if ($stderr.Wait(2000)) { $stderr.Result } else { '' }
        throw "Start-OmrLab: $message`nstdout: $($seen -join "`n")`nstderr: $errText"
    }

    # Keep draining stdout so the lab never blocks on a full pipe.
    $stdoutRest = $process.StandardOutput.ReadToEndAsync()
    $manifest | Add-Member -NotePropertyName Process -NotePropertyValue $process
    $manifest | Add-Member -NotePropertyName StandardErrorTask -NotePropertyValue $stderr
    $manifest | Add-Member -NotePropertyName StandardOutputTask -NotePropertyValue $stdoutRest
    $manifest | Add-Member -NotePropertyName ManifestLine -NotePropertyValue $manifestLine
    $manifest
}

function Stop-OmrLab {
    # Closes the lab's standard input (its signal to stop), waits, kills it if it lingers.
    [CmdletBinding()]
    param(
        [Parameter(ValueFromPipeline)] $Lab,
        [int] $TimeoutSec = 10
    )
    process {
        if ($null -eq $Lab -or -not $Lab.PSObject.Properties['Process']) { return }
        $process = [System.Diagnostics.Process]$Lab.Process
        try {
            if (-not $process.HasExited) {
                try { $process.StandardInput.Close() } catch { Write-Verbose "stdin: $_" }
                if (-not $process.WaitForExit($TimeoutSec * 1000)) {
                    Write-Warning "The lab (pid $($process.Id)) did not stop within $TimeoutSec s after stdin closed: killing it."
                    $process.Kill($true)
                    $process.WaitForExit(5000) | Out-Null
                }
            }
        }
        finally {
            $process.Dispose()
        }
    }
}

function Get-OmrLabManifest {
    # Starts the lab, returns its manifest (without a live process), stops it. For Pester discovery.
    [CmdletBinding()]
    param([string] $LabPath = (Get-OmrLabPath))
    $lab = Start-OmrLab -LabPath $LabPath
    try {
        $lab.ManifestLine | ConvertFrom-Json
    }
    finally {
        Stop-OmrLab $lab
    }
}

function Get-OmrPeers {
    # The real Postfix/Dovecot peers started by build.ps1 (tests/lab/peers.sh start), or $null.
    [CmdletBinding()]
    param()
    if ($env:OMR_PEERS) { return $env:OMR_PEERS | ConvertFrom-Json }
    $null
}

function Split-HostPort {
    # '127.0.0.21:2525' -> @{ Host = '127.0.0.21'; Port = 2525 }
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $EndPoint)
    $i = $EndPoint.LastIndexOf(':')
    [pscustomobject]@{ Host = $EndPoint.Substring(0, $i).Trim('[', ']'); Port = [int]$EndPoint.Substring($i + 1) }
}

Export-ModuleMember -Function Get-OmrModulePath, Get-OmrLabPath, Import-OmrModule, Start-OmrLab, Stop-OmrLab,
    Get-OmrLabManifest, Get-OmrPeers, Split-HostPort

function Get-OmrPwshCommand {
    <#
    .SYNOPSIS
    The command line that starts the pwsh running this session (the pinned 'dotnet pwsh' tool):
    dotnet + pwsh.dll from $PSHOME, or $PSHOME/pwsh when pwsh is an apphost.
    #>
    [CmdletBinding()]
    [OutputType([string[]])]
    param()
    $dll = Join-Path $PSHOME 'pwsh.dll'
    $process = [Environment]::ProcessPath
    if ((Test-Path -LiteralPath $dll) -and [IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet') {
        return @($process, $dll)
    }
    $exe = Join-Path $PSHOME 'pwsh'
    if (Test-Path -LiteralPath $exe) { return @($exe) }
    if (Test-Path -LiteralPath $dll) { return @((Get-Command dotnet -CommandType Application -ErrorAction Stop)[0].Source, $dll) }
    throw "Cannot tell how to start this pwsh (PSHOME '$PSHOME', process '$process')."
}

function Start-OmrSshd {
    <#
    .SYNOPSIS
    Starts a private sshd on 127.0.0.1 (tests/lab/sshd.sh) whose 'powershell' subsystem is the pwsh
    running this session, and returns how to connect to it.
    .DESCRIPTION
    Installs openssh-server first when it is missing and this is root (tests/lab/sshd.sh ensure).
    Throws with the reason when sshd cannot be installed or started. The result has HostName,
    Port, UserName, KeyFilePath, Options (for -Options of New-PSSession/Invoke-Command: strict
    host key checking against the sshd's own known_hosts), Directory, Log and Pid.
    #>
    [CmdletBinding()]
    param(
        [string] $Directory = (Join-Path ([IO.Path]::GetTempPath()) ('omr-sshd-' + [guid]::NewGuid().ToString('N').Substring(0, 8)))
    )
    $script = Join-Path $PSScriptRoot 'lab/sshd.sh'
    if (-not (Get-Command bash -CommandType Application -ErrorAction SilentlyContinue)) { throw 'Start-OmrSshd: bash is not available.' }
    $said = & bash $script ensure 2>&1
    if ($LASTEXITCODE -ne 0) { throw "Start-OmrSshd: openssh-server is not available: $($said -join "`n")" }
    if (-not (Get-Command ssh -CommandType Application -ErrorAction SilentlyContinue)) {
        throw 'Start-OmrSshd: the ssh client is not on PATH (PowerShell remoting over SSH needs it).'
    }
    $command = Get-OmrPwshCommand
    $said = @(& bash $script start $Directory @command 2>&1)
    if ($LASTEXITCODE -ne 0) { throw "Start-OmrSshd: sshd did not start: $($said -join "`n")" }
    $line = @($said | Where-Object { "$_".StartsWith('{') })[-1]
    if (-not $line) { throw "Start-OmrSshd: sshd.sh printed no connection line: $($said -join "`n")" }
    $info = "$line" | ConvertFrom-Json
    [pscustomobject]@{
        HostName    = $info.host
        Port        = [int]$info.port
        UserName    = $info.user
        KeyFilePath = $info.keyFile
        Options     = @{ StrictHostKeyChecking = 'yes'; UserKnownHostsFile = $info.knownHosts; IdentitiesOnly = 'yes'; BatchMode = 'yes' }
        Directory   = $info.dir
        Log         = $info.log
        Pid         = [int]$info.pid
    }
}

function Stop-OmrSshd {
    # Stops the sshd of Start-OmrSshd (and the sessions it started) and removes its directory.
    [CmdletBinding()]
    param([Parameter(ValueFromPipeline)] $Sshd, [switch] $KeepDirectory)
    process {
        if ($null -eq $Sshd -or -not $Sshd.PSObject.Properties['Directory']) { return }
        $said = & bash (Join-Path $PSScriptRoot 'lab/sshd.sh') stop $Sshd.Directory 2>&1
        if ($LASTEXITCODE -ne 0) { Write-Warning "Stop-OmrSshd: $($said -join "`n")" }
        if (-not $KeepDirectory) { Remove-Item -LiteralPath $Sshd.Directory -Recurse -Force -ErrorAction SilentlyContinue }
    }
}

Export-ModuleMember -Function Get-OmrPwshCommand, Start-OmrSshd, Stop-OmrSshd

function New-OmrFlip {
    <#
    .SYNOPSIS
    Starts the flip SMTP server (tests/lab/FlipSmtp.cs) on a free loopback address outside the lab's
    127.66.0.x, on -Port (the lab's, so that MX-based runs test it on that port too). Its Mode ("open",
    "closed", "shutout", "refused", "blocked") is flipped between runs; Server.Stop() closes the port.
    #>
    param([Parameter(Mandatory)] [int] $Port)
    if (-not ('OmrTest.FlipSmtp' -as [type])) { Add-Type -Path (Join-Path $PSScriptRoot 'lab/FlipSmtp.cs') }
    for ($i = 0; $i -lt 20; $i++) {
        $address = "127.67.$(Get-Random -Minimum 1 -Maximum 250).$(Get-Random -Minimum 1 -Maximum 250)"
        try { return [pscustomobject]@{ Address = $address; Server = [OmrTest.FlipSmtp]::new($address, $Port) } } catch { Write-Verbose "busy: $address" }
    }
    throw 'No free loopback address for the test SMTP server.'
}
Export-ModuleMember -Function New-OmrFlip
