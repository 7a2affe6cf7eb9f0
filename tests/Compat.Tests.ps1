#Requires -Version 7.2
# Windows PowerShell 5.1 (on-premises Exchange Management Shell runs there) cannot run here, so
# this proves what metadata can prove: every assembly the built module ships (read with
# System.Reflection.Metadata, never loaded) targets a framework that .NET Framework 4.7.2 loads,
# and references only assemblies the package carries, the framework provides (.NET Framework
# 4.7.2 and its .NET Standard 2.0 facades) or PowerShell 5.1 provides. Omr.Loader (net8.0) is the
# one exception: PowerShell 7 only, loaded by reflection and only where AssemblyLoadContext exists.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $dir = Split-Path -Parent (Get-OmrModulePath)
    # Native libraries (runtimes/<rid>/native/, e.g. SQLite's) are not .NET assemblies: the loader picks them per platform.
    $script:Shipped = @(Get-ChildItem -LiteralPath $dir -Recurse -Filter *.dll | Where-Object FullName -NotMatch '[\\/]runtimes[\\/][^\\/]+[\\/]native[\\/]' |
            ForEach-Object { @{ Name = $_.Name; Path = $_.FullName } })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:ModuleDir = Split-Path -Parent (Get-OmrModulePath)
    $script:PsOnly = 'Omr.Loader'

    function script:Read-AssemblyMetadata([string] $Path) {
        $stream = [IO.File]::OpenRead($Path)
        try {
            $pe = [System.Reflection.PortableExecutable.PEReader]::new($stream)
            if (-not $pe.HasMetadata) { return [pscustomobject]@{ Path = $Path; Managed = $false } }
            $md = [System.Reflection.Metadata.PEReaderExtensions]::GetMetadataReader($pe)
            $def = $md.GetAssemblyDefinition()
            $framework = $null
            foreach ($h in $def.GetCustomAttributes()) {
                $ca = $md.GetCustomAttribute($h)
                $typeName = $null
                if ($ca.Constructor.Kind -eq [System.Reflection.Metadata.HandleKind]::MemberReference) {
                    $member = $md.GetMemberReference([System.Reflection.Metadata.MemberReferenceHandle]::op_Explicit($ca.Constructor))
                    if ($member.Parent.Kind -eq [System.Reflection.Metadata.HandleKind]::TypeReference) {
                        $typeName = $md.GetString($md.GetTypeReference([System.Reflection.Metadata.TypeReferenceHandle]::op_Explicit($member.Parent)).Name)
                    }
                }
                if ($typeName -eq 'TargetFrameworkAttribute') {
                    # Blob: prolog 0x0001, then the first argument as a SerString (compressed length, UTF-8).
                    $blob = $md.GetBlobBytes($ca.Value)
                    $length = $blob[2]; $offset = 3
                    if ($length -band 0x80) { $length = (($length -band 0x3F) -shl 8) -bor $blob[3]; $offset = 4 }
                    $framework = [Text.Encoding]::UTF8.GetString($blob, $offset, $length)
                }
            }
            $references = @(foreach ($h in $md.AssemblyReferences) {
                    $r = $md.GetAssemblyReference($h)
                    [pscustomobject]@{ Name = $md.GetString($r.Name); Version = $r.Version }
                })
            [pscustomobject]@{
                Path = $Path; Managed = $true; Name = $md.GetString($def.Name); Version = $def.Version
                TargetFramework = $framework; References = $references
            }
        }
        finally { $stream.Dispose() }
    }

    $script:Assemblies = @(Get-ChildItem -LiteralPath $ModuleDir -Recurse -Filter *.dll | ForEach-Object { Read-AssemblyMetadata $_.FullName })
    $script:ShippedByName = @{}
    foreach ($a in $Assemblies | Where-Object Managed) { $ShippedByName[$a.Name] = $a }

    # What .NET Framework 4.7.2 provides: the .NET Standard 2.0 surface (NETStandard.Library's
    # reference assemblies: each is a real assembly or a facade in .NET Framework 4.7.1 and later),
    # plus full-framework assemblies that net4x builds of packages reference.
    $packages = if ($env:OMR_NUGET_PACKAGES) { $env:OMR_NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
    $script:FacadeDir = Get-ChildItem -LiteralPath (Join-Path $packages 'netstandard.library') -Directory -ErrorAction SilentlyContinue |
        Sort-Object { [version]$_.Name } -Descending |
        ForEach-Object { Join-Path $_.FullName 'build/netstandard2.0/ref' } | Where-Object { Test-Path -LiteralPath $_ } | Select-Object -First 1
    $script:Framework = [System.Collections.Generic.HashSet[string]]::new([StringComparer]::OrdinalIgnoreCase)
    if ($FacadeDir) { Get-ChildItem -LiteralPath $FacadeDir -Filter *.dll | ForEach-Object { [void]$Framework.Add($_.BaseName) } }
    foreach ($n in 'System.Security', 'System.Configuration', 'System.DirectoryServices', 'System.Net.Http.WebRequest', 'Microsoft.CSharp',
        'System.IdentityModel', 'System.ServiceModel', 'System.Management', 'System.Deployment', 'System.Windows.Forms', 'WindowsBase') {
        [void]$Framework.Add($n)
    }
    # PowerShell 5.1's own (System.Management.Automation 3.0.0.0).
    $script:PowerShellOwn = 'System.Management.Automation', 'Microsoft.PowerShell.*', 'Microsoft.Management.Infrastructure*'
}

Describe 'Windows PowerShell 5.1 / .NET Framework 4.7.2: what the package ships' -Tag Module, Compat {
    It 'knows the .NET Standard 2.0 facades of .NET Framework (NETStandard.Library in the NuGet cache)' {
        $FacadeDir | Should -Not -BeNullOrEmpty -Because 'the netstandard2.0 build restores NETStandard.Library 2.0.x'
        $Framework | Should -Contain 'netstandard'
        $Framework | Should -Contain 'System.Runtime'
        $Framework | Should -Not -Contain 'System.Memory' -Because 'System.Memory is not part of .NET Framework 4.7.2 and must ship'
    }

    It 'ships managed assemblies, and native libraries only under runtimes/<rid>/native/' {
        $Assemblies.Count | Should -BeGreaterThan 5
        @($Assemblies | Where-Object { -not $_.Managed -and $_.Path -notmatch '[\\/]runtimes[\\/][^\\/]+[\\/]native[\\/]' } | ForEach-Object Path) | Should -BeNullOrEmpty
        @($Assemblies | Where-Object { $_.Managed -and $_.Path -match '[\\/]native[\\/]' } | ForEach-Object Path) | Should -BeNullOrEmpty
    }

    It '<Name> targets a framework that .NET Framework 4.7.2 loads' -ForEach $Shipped {
        $a = $Assemblies | Where-Object Path -EQ $Path
        if ($a.Name -eq $PsOnly) {
            $a.TargetFramework | Should -Match '^\.NETCoreApp,Version=v\d' -Because 'Omr.Loader is the PowerShell 7 load context'
            return
        }
        $tf = $a.TargetFramework
        $ok = ($tf -match '^\.NETStandard,Version=v(1\.\d|2\.0)$') -or
            ($tf -match '^\.NETFramework,Version=v(?<v>[\d.]+)$' -and [version]$Matches.v -le [version]'4.7.2')
        if (-not $tf) {
            # No attribute (older compilers): judge by what it was built against.
            $ok = -not @($a.References | Where-Object { ($_.Name -eq 'netstandard' -and $_.Version -gt [version]'2.0.0.0') -or
                    ($_.Name -eq 'System.Runtime' -and $_.Version -ge [version]'4.2.2.0') })
        }
        $ok | Should -BeTrue -Because "$Name targets '$tf' (allowed: .NET Standard 2.0 or lower, .NET Framework 4.7.2 or lower)"
    }

    It '<Name> references only assemblies the package carries, the framework or PowerShell provides' -ForEach $Shipped {
        $a = $Assemblies | Where-Object Path -EQ $Path
        if ($a.Name -eq $PsOnly) { return }
        $bad = foreach ($r in $a.References) {
            if (@($PowerShellOwn | Where-Object { $r.Name -like $_ }).Count) {
                if ($r.Name -eq 'System.Management.Automation' -and $r.Version -gt [version]'3.0.0.0') { "$($r.Name) $($r.Version) (PowerShell 5.1 has 3.0.0.0)" }
                continue
            }
            if ($r.Name -eq 'netstandard') {
                if ($r.Version -gt [version]'2.0.0.0') { "netstandard $($r.Version)" }
                continue
            }
            $shipped = $ShippedByName[$r.Name]
            if ($shipped) {
                if ($r.Name -eq $PsOnly) { "$($r.Name) (PowerShell 7 only: must be loaded by reflection, never referenced)" }
                elseif ($shipped.Version -lt $r.Version) { "$($r.Name) $($r.Version) (ships $($shipped.Version))" }
                continue
            }
            if ($Framework.Contains($r.Name)) { continue }
            "$($r.Name) $($r.Version) (neither shipped nor part of .NET Framework 4.7.2)"
        }
        @($bad) | Should -BeNullOrEmpty -Because "every reference of $Name must resolve on Windows PowerShell 5.1"
    }

    It 'loads Omr.Loader only by reflection, and only where AssemblyLoadContext exists' {
        $ShippedByName.ContainsKey('Omr.Loader') | Should -BeTrue
        Join-Path $ModuleDir "dependencies/Omr.Loader.dll" | Should -Exist
        foreach ($a in $Assemblies | Where-Object Managed) {
            @($a.References | Where-Object Name -EQ 'Omr.Loader') | Should -BeNullOrEmpty -Because "$($a.Name) must not reference the net8.0 loader"
        }
        $source = Get-Content -Raw -LiteralPath (Join-Path $PSScriptRoot '../src/Omr/Loader/ModuleInitializer.cs')
        $source | Should -Match 'if \(HasAssemblyLoadContext\(\)\)\s*\{\s*var loaderType = LoadLoaderType\(\);'
        $source | Should -Match 'AppDomain\.CurrentDomain\.AssemblyResolve \+= ResolveOnDesktop'
    }

    It 'declares both editions and .NET Framework 4.7.2 in the manifest' {
        $data = Import-PowerShellDataFile -LiteralPath (Get-OmrModulePath)
        $data.CompatiblePSEditions | Should -Be @('Core', 'Desktop')
        $data.PowerShellVersion | Should -Be '5.1'
        $data.DotNetFrameworkVersion | Should -Be '4.7.2'
    }
}
