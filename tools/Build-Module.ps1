#Requires -Version 7.2

<#
.SYNOPSIS
The Build task: compiles the solution and lays out the importable module in out/Omr/, the lab in
out/lab/ and the Bench's latency fleet in out/fleet/.
#>
[CmdletBinding()]
param(
    [ValidateSet('Release', 'Debug')]
    [string] $Configuration = 'Release'
)

. (Join-Path $PSScriptRoot 'Common.ps1')

$DependencyFolder = 'dependencies'
# Platforms whose native SQLite library (e_sqlite3, for the -StatePath database) ships in dependencies/runtimes/<rid>/native.
$NativeRuntimes = @('win-x64', 'win-arm64', 'linux-x64', 'linux-arm64', 'linux-musl-x64', 'osx-arm64', 'osx-x64')
# Platforms Omr.Engine is also shipped compiled ahead of time for (dependencies/r2r/<rid>/, see src/Omr.ReadyToRun).
$ReadyToRunRuntimes = @('linux-x64')

# Assemblies PowerShell provides itself: never shipped in the module.
$PowerShellOwnAssemblies = @(
    'System.Management.Automation'
    'Microsoft.PowerShell.*'
    'Microsoft.Management.Infrastructure*'
)

function Test-PowerShellOwn([string] $FileName) {
    foreach ($pattern in $PowerShellOwnAssemblies) { if ($FileName -like "$pattern.dll") { return $true } }
    $false
}

function Assert-VersionConsistent {
    $props = [xml](Get-Content -Raw -LiteralPath (Join-Path $Root 'Directory.Build.props'))
    $assemblyVersion = @($props.Project.PropertyGroup | ForEach-Object {
            if ($_.PSObject.Properties['Version']) { $_.Version }
        }) | Select-Object -First 1
    $moduleVersion = Get-ModuleVersion
    if ($assemblyVersion -and $assemblyVersion -ne $moduleVersion) {
        throw "Omr.psd1 ModuleVersion '$moduleVersion' differs from Directory.Build.props Version '$assemblyVersion'."
    }
}

function Publish-Project([string] $Project, [string] $To, [string[]] $Extra = @('--no-build')) {
    Invoke-Native dotnet (@('publish', $Project, '-c', $Configuration) + $Extra + @('-nologo', '-v', 'q', '-o', $To)) | Out-Null
}

function Copy-ModuleFiles([string] $OmrStage, [string] $LoaderStage, [string] $Deps) {
    # The module: out/Omr/{Omr.psd1, Omr.Init.psm1, Omr.dll, Omr.Format.ps1xml, en-US/, dependencies/}
    Copy-Item -LiteralPath (Join-Path $Root 'Omr.psd1') -Destination $ModuleOut
    Copy-Item -LiteralPath (Join-Path $Root 'src/Omr/Loader/Omr.Init.psm1') -Destination $ModuleOut
    # Omr.Model (the output types) sits next to Omr.dll, in PowerShell's own load context,
    # so that type literals such as [Omr.RelayTestResult] resolve in scripts.
    foreach ($file in 'Omr.dll', 'Omr.pdb', 'Omr.Model.dll', 'Omr.Model.pdb') {
        $path = Join-Path $OmrStage $file
        if (Test-Path -LiteralPath $path) { Copy-Item -LiteralPath $path -Destination $ModuleOut }
    }
    $srcOmr = Join-Path $Root 'src/Omr'
    $format = Join-Path $srcOmr 'Omr.Format.ps1xml'
    if (Test-Path -LiteralPath $format) { Copy-Item -LiteralPath $format -Destination $ModuleOut }
    Get-ChildItem -LiteralPath $srcOmr -Directory | Where-Object Name -Match '^[a-z]{2}-[A-Z]{2}$' | ForEach-Object {
        $help = Get-ChildItem -LiteralPath $_.FullName -File | Where-Object Extension -In '.xml', '.txt'
        if ($help) {
            $target = New-Item -ItemType Directory -Force -Path (Join-Path $ModuleOut $_.Name)
            $help | Copy-Item -Destination $target.FullName
        }
    }

    Get-ChildItem -LiteralPath $OmrStage -File | Where-Object {
        $_.Extension -in '.dll', '.pdb' -and $_.BaseName -notin 'Omr', 'Omr.Model' -and -not (Test-PowerShellOwn $_.Name)
    } | Copy-Item -Destination $Deps
    Get-ChildItem -LiteralPath $LoaderStage -File -Filter 'Omr.Loader.*' |
        Where-Object Extension -In '.dll', '.pdb' | Copy-Item -Destination $Deps
}

function Copy-NativeSqlite([string] $Deps) {
    # The native SQLite library of the state database (Microsoft.Data.Sqlite via SQLitePCLRaw's
    # e_sqlite3) for every platform the module supports: dependencies/runtimes/<rid>/native/.
    # A netstandard2.0 publish does not lay these out, so they come from the restored package;
    # Omr.Loader's LoadUnmanagedDll (PowerShell 7) and ModuleInitializer (Windows PowerShell) load them.
    $assets = Get-Content -Raw -LiteralPath (Join-Path $Root 'src/Omr.Engine/obj/project.assets.json') | ConvertFrom-Json
    $sqliteLib = @($assets.libraries.PSObject.Properties.Name | Where-Object { $_ -like 'SQLitePCLRaw.lib.e_sqlite3/*' })[0]
    if (-not $sqliteLib) { throw 'Omr.Engine restores no SQLitePCLRaw.lib.e_sqlite3: the native SQLite library is missing.' }
    $sqliteRoot = Join-Path (Get-NuGetPackagesRoot) ($sqliteLib.ToLowerInvariant() -replace '/', [IO.Path]::DirectorySeparatorChar)
    foreach ($rid in $NativeRuntimes) {
        $from = Join-Path $sqliteRoot "runtimes/$rid/native"
        if (-not (Test-Path -LiteralPath $from)) { throw "$sqliteLib has no native library for $rid ($from)." }
        $to = New-Item -ItemType Directory -Force -Path (Join-Path $Deps "runtimes/$rid/native")
        Get-ChildItem -LiteralPath $from -File | Copy-Item -Destination $to.FullName
    }
}

function Copy-ReadyToRunEngine([string] $Stage, [string] $Deps) {
    # Omr.Engine compiled ahead of time (ReadyToRun) for .NET 10 on the platforms in
    # $ReadyToRunRuntimes: dependencies/r2r/<rid>/Omr.Engine.dll, the same IL and metadata plus
    # native code, so a scan starts without waiting for the JIT. Omr.Loader uses it only on
    # PowerShell 7 with .NET 10 or later on that platform, only when its PE header says code for
    # this platform and its MVID matches the IL copy's; Windows PowerShell and other platforms load
    # dependencies/Omr.Engine.dll.
    foreach ($rid in $ReadyToRunRuntimes) {
        $r2rStage = Join-Path $Stage "r2r-$rid"
        Publish-Project 'src/Omr.ReadyToRun/Omr.ReadyToRun.csproj' $r2rStage -Extra '-r', $rid
        $to = New-Item -ItemType Directory -Force -Path (Join-Path $Deps "r2r/$rid")
        Copy-Item -LiteralPath (Join-Path $r2rStage 'Omr.Engine.dll') -Destination $to.FullName
    }
}

function Assert-Layout([string] $Deps) {
    $manifest = Import-PowerShellDataFile -LiteralPath (Join-Path $ModuleOut 'Omr.psd1')
    foreach ($required in @($manifest.RootModule) + @($manifest.NestedModules) + @($manifest.FormatsToProcess)) {
        if (-not (Test-Path -LiteralPath (Join-Path $ModuleOut $required))) {
            throw "The built module lacks '$required' named in Omr.psd1."
        }
    }
    foreach ($required in 'Omr.Engine.dll', 'Omr.Loader.dll') {
        if (-not (Test-Path -LiteralPath (Join-Path $Deps $required))) { throw "out/Omr/$DependencyFolder lacks $required." }
    }
    $leaked = Get-ChildItem -LiteralPath $ModuleOut -Recurse -File | Where-Object { Test-PowerShellOwn $_.Name }
    if ($leaked) { throw "PowerShell's own assemblies must not ship: $($leaked.Name -join ', ')" }
    if (-not (Test-Path -LiteralPath (Join-Path $LabOut 'Omr.Lab.dll'))) { throw 'out/lab/Omr.Lab.dll was not produced.' }
    if (-not (Test-Path -LiteralPath (Join-Path $FleetOut 'Omr.Fleet.dll'))) { throw 'out/fleet/Omr.Fleet.dll was not produced.' }
}

Write-Step "Build ($Configuration)"
Assert-VersionConsistent
Push-Location $Root
try {
    Invoke-Native dotnet 'build', 'Omr.sln', '-c', $Configuration, '-nologo', '-clp:NoSummary', '-v', 'q' | Out-Null

    $stage = Join-Path $Out 'obj'
    Remove-Item -Recurse -Force -LiteralPath $stage -ErrorAction SilentlyContinue
    $omrStage = Join-Path $stage 'Omr'
    $loaderStage = Join-Path $stage 'Omr.Loader'
    Publish-Project 'src/Omr/Omr.csproj' $omrStage
    Publish-Project 'src/Omr.Loader/Omr.Loader.csproj' $loaderStage

    # The lab: dotnet out/lab/Omr.Lab.dll
    Remove-Item -Recurse -Force -LiteralPath $LabOut -ErrorAction SilentlyContinue
    Publish-Project 'src/Omr.Lab/Omr.Lab.csproj' $LabOut
    # The latency fleet for Bench: dotnet out/fleet/Omr.Fleet.dll
    Remove-Item -Recurse -Force -LiteralPath $FleetOut -ErrorAction SilentlyContinue
    Publish-Project 'src/Omr.Fleet/Omr.Fleet.csproj' $FleetOut

    Remove-Item -Recurse -Force -LiteralPath $ModuleOut -ErrorAction SilentlyContinue
    $deps = Join-Path $ModuleOut $DependencyFolder
    New-Item -ItemType Directory -Force -Path $deps | Out-Null
    Copy-ModuleFiles $omrStage $loaderStage $deps
    Copy-NativeSqlite $deps
    Copy-ReadyToRunEngine $stage $deps
    Assert-Layout $deps

    Remove-Item -Recurse -Force -LiteralPath $stage -ErrorAction SilentlyContinue
    Write-Host "   module: $ModuleOut ($((Get-ChildItem -LiteralPath $deps -Filter *.dll).Count) dependency assemblies)"
    Write-Host "   lab:    $(Join-Path $LabOut 'Omr.Lab.dll')"
    Write-Host "   fleet:  $(Join-Path $FleetOut 'Omr.Fleet.dll')"
}
finally {
    Pop-Location
}
