# Dot-sourced by build.ps1 and every script in tools/: where things are, and the few helpers they share.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$PSNativeCommandUseErrorActionPreference = $false

$Root = Split-Path -Parent $PSScriptRoot
$Out = Join-Path $Root 'out'
$ModuleOut = Join-Path $Out 'Omr'
$LabOut = Join-Path $Out 'lab'
$FleetOut = Join-Path $Out 'fleet'
$TestResults = Join-Path $Out 'TestResults'

function Write-Step([string] $Message) {
    Write-Host "==> $Message" -ForegroundColor Cyan
}

function Invoke-Native {
    # Runs a native command, echoing it; throws on a non-zero exit unless -AllowFailure.
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [switch] $AllowFailure
    )
    Write-Host "   $FilePath $($ArgumentList -join ' ')" -ForegroundColor DarkGray
    & $FilePath @ArgumentList | Out-Host
    $code = $LASTEXITCODE
    if ($code -ne 0 -and -not $AllowFailure) {
        throw "'$FilePath $($ArgumentList -join ' ')' failed with exit code $code."
    }
    $code
}

function Invoke-PwshScript([string] $Path, [string[]] $ArgumentList = @()) {
    # A script in a fresh 'dotnet pwsh' (the pinned PowerShell), run from the repository root; returns its exit code.
    Push-Location $Root
    try { Invoke-Native dotnet (@('pwsh', '-NoProfile', '-NonInteractive', '-File', $Path) + $ArgumentList) -AllowFailure }
    finally { Pop-Location }
}

function Invoke-WithEnvironment([hashtable] $Variables, [scriptblock] $Body) {
    # Runs $Body with these environment variables set ($null unsets one), then puts back what they were.
    $saved = @{}
    foreach ($name in $Variables.Keys) { $saved[$name] = [Environment]::GetEnvironmentVariable($name) }
    try {
        foreach ($name in $Variables.Keys) { [Environment]::SetEnvironmentVariable($name, $Variables[$name]) }
        & $Body
    }
    finally {
        foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
    }
}

function Get-ModuleVersion {
    (Import-PowerShellDataFile -LiteralPath (Join-Path $Root 'Omr.psd1')).ModuleVersion
}

function Get-NuGetPackagesRoot {
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    $line = & dotnet nuget locals global-packages --list 2>$null | Select-Object -First 1
    if ($line -match 'global-packages:\s*(.+)$') { return $Matches[1].Trim() }
    Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages'
}
