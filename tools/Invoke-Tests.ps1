#Requires -Version 7.2

<#
.SYNOPSIS
The Test task: the xunit engine tests, then the Pester tests against the BUILT module in a fresh
pwsh process (real peers around them). Prints one final line 'N passed, N failed[, N skipped]'
and returns the exit code: 1 on any failure or when nothing passed, else 0.
#>
[CmdletBinding()]
param(
    [ValidateSet('Release', 'Debug')]
    [string] $Configuration = 'Release',
    [ValidateSet('All', 'Xunit', 'Pester')]
    [string] $Suite = 'All',
    [string[]] $Tag,
    [string[]] $ExcludeTag,
    [string[]] $FullName,
    [string] $XunitFilter
)

. (Join-Path $PSScriptRoot 'Common.ps1')
. (Join-Path $PSScriptRoot 'TestResults.ps1')
. (Join-Path $PSScriptRoot 'Peers.ps1')

function Invoke-Xunit {
    Write-Step 'xunit: tests/Omr.Engine.Tests'
    $trx = Join-Path $TestResults 'xunit.trx'
    Remove-Item -LiteralPath $trx -ErrorAction SilentlyContinue
    $arguments = @('test', (Join-Path $Root 'tests/Omr.Engine.Tests/Omr.Engine.Tests.csproj'), '-c', $Configuration,
        '--no-build', '-nologo', '--logger', 'trx;LogFileName=xunit.trx', '--logger', 'console;verbosity=normal',
        '--results-directory', $TestResults)
    if ($XunitFilter) { $arguments += '--filter', $XunitFilter }
    $code = Invoke-Native dotnet $arguments -AllowFailure
    Get-RunCounts -Name xunit -Runner 'dotnet test' -Report $trx -Read ${function:Read-TrxCounts} -ExitCode $code
}

function Invoke-ScriptAnalysis {
    $analyzer = Get-Module -ListAvailable PSScriptAnalyzer | Sort-Object Version -Descending | Select-Object -First 1
    if (-not $analyzer) {
        Write-Host '   PSScriptAnalyzer is not installed: script analysis skipped.'
        return
    }
    Import-Module $analyzer
    $paths = @(Join-Path $Root 'build.ps1') + @(Get-ChildItem -Path (Join-Path $Root 'tools'), (Join-Path $Root 'tests') -Recurse -Include *.ps1, *.psm1 | ForEach-Object FullName)
    $findings = @($paths | ForEach-Object { Invoke-ScriptAnalyzer -Path $_ -Severity Warning, Error })
    if ($findings.Count) {
        $findings | Format-Table -AutoSize RuleName, Severity, ScriptName, Line, Message | Out-String -Width 200 | Write-Host
    }
    Write-Host "   PSScriptAnalyzer $($analyzer.Version): $($findings.Count) finding(s)."
}

function Get-PesterManifest {
    # Pester comes from NuGet (no PowerShell Gallery): tools/tools.csproj downloads the
    # version pinned in Directory.Packages.props into the global packages folder.
    $props = [xml](Get-Content -Raw -LiteralPath (Join-Path $Root 'Directory.Packages.props'))
    $version = @($props.Project.ItemGroup.PackageVersion | Where-Object Include -EQ 'Pester')[0].Version
    if (-not $version) { throw 'Directory.Packages.props has no PackageVersion for Pester.' }
    $psd1 = Join-Path (Get-NuGetPackagesRoot) "pester/$version/tools/Pester.psd1"
    # Also brings the collision fixtures (old DnsClient/MimeKit/MailKit) used by Module.Tests.ps1.
    Invoke-Native dotnet 'restore', (Join-Path $Root 'tools/tools.csproj'), '-nologo', '-v', 'q' | Out-Null
    if (-not (Test-Path -LiteralPath $psd1)) { throw "Pester $version not found at $psd1 after restore." }
    $psd1
}

function Invoke-PesterSuite {
    Write-Step 'Script analysis'
    Invoke-ScriptAnalysis
    $pester = Get-PesterManifest
    $environment = @{
        OMR_MODULE         = Join-Path $ModuleOut 'Omr.psd1'
        OMR_LAB            = Join-Path $LabOut 'Omr.Lab.dll'
        OMR_NUGET_PACKAGES = Get-NuGetPackagesRoot
    }
    Invoke-WithEnvironment $environment {
        Invoke-WithPeers {
            Write-Step 'Pester: tests/*.Tests.ps1 against out/Omr in a fresh pwsh'
            $nunit = Join-Path $TestResults 'pester.xml'
            Remove-Item -LiteralPath $nunit, "$nunit.summary.json" -ErrorAction SilentlyContinue
            $arguments = @('-PesterManifest', $pester, '-Path', (Join-Path $Root 'tests'), '-OutputFile', $nunit)
            if ($Tag) { $arguments += '-Tag', ($Tag -join ',') }
            if ($ExcludeTag) { $arguments += '-ExcludeTag', ($ExcludeTag -join ',') }
            if ($FullName) { $arguments += '-FullName', ($FullName -join ',') }
            $code = Invoke-PwshScript (Join-Path $Root 'tools/PesterRunner.ps1') $arguments
            Get-RunCounts -Name pester -Runner 'The Pester process' -Report $nunit -Read ${function:Read-PesterCounts} -ExitCode $code
        }
    }
}

New-Item -ItemType Directory -Force -Path $TestResults | Out-Null
$runs = @(
    if ($Suite -in 'All', 'Xunit') { Invoke-Xunit }
    if ($Suite -in 'All', 'Pester') { Invoke-PesterSuite }
)
$passed, $failed, $skipped = foreach ($count in 'Passed', 'Failed', 'Skipped') { [int]($runs | Measure-Object $count -Sum).Sum }
if ($passed + $failed -eq 0) {
    Write-Warning 'No test ran.'
}
$failures = @($runs | ForEach-Object { if ($_.PSObject.Properties['Failures']) { $_.Failures } })
if ($failures.Count -gt 0) {
    Write-Host "Failed tests ($($failures.Count)):"
    foreach ($failure in $failures) { Write-Host "  - $failure" }
}
$line = "$passed passed, $failed failed"
if ($skipped) { $line += ", $skipped skipped" }
Write-Host $line
if ($failed -gt 0 -or $passed -eq 0) { return 1 }
0
