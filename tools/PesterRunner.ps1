#Requires -Version 7.2

<#
.SYNOPSIS
Runs the Pester tests in this (fresh) pwsh process and writes an NUnit XML report.
Started by build.ps1 Test: dotnet pwsh -NoProfile -File tools/PesterRunner.ps1 ...
List parameters are comma-separated strings (pwsh -File passes plain strings).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $PesterManifest,
    [Parameter(Mandatory)] [string] $Path,
    [Parameter(Mandatory)] [string] $OutputFile,
    [string] $Tag,
    [string] $ExcludeTag,
    [string] $FullName
)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

Import-Module -Name $PesterManifest -Force

$split = { param($s) if ($s) { @($s -split ',' | ForEach-Object Trim | Where-Object { $_ }) } else { @() } }

$config = New-PesterConfiguration
$config.Run.Path = @(Get-ChildItem -LiteralPath $Path -File -Filter '*.Tests.ps1' | Sort-Object Name | ForEach-Object FullName)
$config.Run.PassThru = $true
$config.Run.Exit = $false
$config.Output.Verbosity = 'Detailed'
$config.Output.StackTraceVerbosity = 'Filtered'
$config.TestResult.Enabled = $true
$config.TestResult.OutputFormat = 'NUnitXml'
$config.TestResult.OutputPath = $OutputFile
$config.TestResult.TestSuiteName = 'Omr.Pester'
if ($Tag) { $config.Filter.Tag = & $split $Tag }
if ($ExcludeTag) { $config.Filter.ExcludeTag = & $split $ExcludeTag }
if ($FullName) { $config.Filter.FullName = & $split $FullName }

$result = Invoke-Pester -Configuration $config

# A container that fails before any test runs (a script that does not parse, a failing
# BeforeDiscovery) has no entry in the NUnit report: record those for build.ps1 to count.
$failedContainers = @($result.Containers | Where-Object { $_.Result -eq 'Failed' -and -not $_.Passed -and @($_.Blocks).Count -eq 0 } |
    ForEach-Object { "$($_.Item)" })
[pscustomobject]@{
    Passed           = $result.PassedCount
    Failed           = $result.FailedCount
    Skipped          = $result.SkippedCount
    NotRun           = $result.NotRunCount
    FailedBlocks     = $result.FailedBlocksCount
    FailedContainers = $result.FailedContainersCount
    FailedContainerPaths = $failedContainers
} | ConvertTo-Json | Set-Content -LiteralPath "$OutputFile.summary.json"
$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
Write-Host ("Pester: {0} passed, {1} failed, {2} skipped, {3} not run; failed blocks {4}, failed containers {5}" -f
    $result.PassedCount, $result.FailedCount, $result.SkippedCount, $result.NotRunCount,
    $result.FailedBlocksCount, $result.FailedContainersCount)
exit ([Math]::Min($failed, 100))
