#Requires -Version 7.2
# The built module as a whole: manifest, layout, exports, help, and assembly isolation.
# No lab needed except for the collision test, which runs in a child process.

BeforeDiscovery {
    # Where build.ps1 ships Omr.Engine compiled ahead of time (ReadyToRun) and Omr.Loader uses it.
    $script:OnReadyToRunPlatform = $IsLinux -and [Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture -eq 'X64' -and [Environment]::Version.Major -ge 10
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:ModulePath = Get-OmrModulePath
    $script:ModuleDir = Split-Path -Parent $ModulePath
    $script:DepsDir = Join-Path $ModuleDir 'dependencies'
    $script:ReadyToRunRid = 'linux-x64'
    Import-OmrModule

    function script:Read-ModuleIdentity([string] $Path) {
        # The module version id and whether the file carries ReadyToRun code (a managed native header).
        $stream = [IO.File]::OpenRead($Path)
        try {
            $pe = [System.Reflection.PortableExecutable.PEReader]::new($stream)
            $md = [System.Reflection.Metadata.PEReaderExtensions]::GetMetadataReader($pe)
            [pscustomobject]@{
                Mvid        = $md.GetGuid($md.GetModuleDefinition().Mvid)
                ReadyToRun  = $pe.PEHeaders.CorHeader.ManagedNativeHeaderDirectory.Size -gt 0
                TargetsFramework = @($md.GetAssemblyDefinition().GetCustomAttributes() | ForEach-Object {
                        $ctor = $md.GetCustomAttribute($_).Constructor
                        if ($ctor.Kind -eq 'MemberReference') {
                            $type = $md.GetTypeReference($md.GetMemberReference($ctor).Parent)
                            $md.GetString($type.Name)
                        }
                    }) -contains 'TargetFrameworkAttribute'
            }
        }
        finally { $stream.Dispose() }
    }
}

Describe 'Omr module manifest and layout' -Tag Module {
    It 'has a valid manifest' {
        $info = Test-ModuleManifest -Path $ModulePath -ErrorAction Stop
        $info.Name | Should -Be 'Omr'
        $info.Version | Should -Be ([version]'0.1.0')
        $info.Guid | Should -Be ([guid]'8765a72b-628b-4dc8-8816-9712f5e28ccd')
        $info.CompatiblePSEditions | Should -Be @('Core', 'Desktop')
        $info.PowerShellVersion | Should -Be ([version]'5.1')
    }

    It 'exports exactly the cmdlets the manifest lists, and no functions, aliases or variables' {
        $data = Import-PowerShellDataFile -LiteralPath $ModulePath
        $module = Get-Module Omr
        @($module.ExportedCmdlets.Keys | Sort-Object) | Should -Be @($data.CmdletsToExport | Sort-Object)
        $module.ExportedFunctions.Count | Should -Be 0
        $module.ExportedAliases.Count | Should -Be 0
        $module.ExportedVariables.Count | Should -Be 0
        $data.CmdletsToExport | Should -Contain 'Test-OpenRelay'
    }

    It 'lists every cmdlet that Omr.dll defines' {
        $omr = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Omr' } | Select-Object -First 1
        $defined = @($omr.GetExportedTypes() | ForEach-Object {
                $attr = [Attribute]::GetCustomAttribute($_, [System.Management.Automation.CmdletAttribute])
                if ($attr) { '{0}-{1}' -f $attr.VerbName, $attr.NounName }
            } | Sort-Object)
        $data = Import-PowerShellDataFile -LiteralPath $ModulePath
        @($data.CmdletsToExport | Sort-Object) | Should -Be $defined
    }

    It 'exports only approved verbs' {
        $approved = (Get-Verb).Verb
        foreach ($name in (Get-Module Omr).ExportedCmdlets.Keys) {
            $approved | Should -Contain ($name -split '-')[0] -Because "$name must use an approved verb"
        }
    }

    It 'keeps its version in step with the assemblies' {
        $omr = [System.Reflection.AssemblyName]::GetAssemblyName((Join-Path $ModuleDir 'Omr.dll'))
        $omr.Version.ToString(3) | Should -Be (Get-Module Omr).Version.ToString(3)
    }

    It 'ships the dependencies in dependencies/ and only the cmdlets and output types next to Omr.psd1' {
        foreach ($name in 'Omr.Engine', 'Omr.Loader', 'DnsClient', 'MailKit', 'MimeKit') {
            Join-Path $DepsDir "$name.dll" | Should -Exist
            Join-Path $ModuleDir "$name.dll" | Should -Not -Exist
        }
        @(Get-ChildItem -LiteralPath $ModuleDir -File -Filter *.dll).Name | Sort-Object | Should -Be @('Omr.dll', 'Omr.Model.dll')
        Join-Path $DepsDir 'Omr.Model.dll' | Should -Not -Exist
    }

    It 'never ships PowerShell''s own assemblies' {
        Get-ChildItem -LiteralPath $ModuleDir -Recurse -File |
            Where-Object { $_.Name -like 'System.Management.Automation*' -or $_.Name -like 'Microsoft.PowerShell.*' } |
            Should -BeNullOrEmpty
    }

    It 'loads the format file named in the manifest' {
        $data = Import-PowerShellDataFile -LiteralPath $ModulePath
        foreach ($format in $data.FormatsToProcess) {
            Join-Path $ModuleDir $format | Should -Exist
            { [xml](Get-Content -Raw -LiteralPath (Join-Path $ModuleDir $format)) } | Should -Not -Throw
        }
        # The default view is defined for the result type.
        Get-FormatData -TypeName 'Omr.RelayTestResult' | Should -Not -BeNullOrEmpty
    }
}

Describe 'Omr module manifest content' -Tag Module {
    BeforeAll {
        $script:Data = Import-PowerShellDataFile -LiteralPath $ModulePath
        $script:Exported = @((Get-Module Omr).ExportedCmdlets.Keys | Sort-Object)
    }

    It 'describes every cmdlet it exports, and points to about_Omr' {
        foreach ($name in $Exported) { $Data.Description | Should -Match ([regex]::Escape($name)) -Because "the description names $name" }
        $Data.Description | Should -Match 'about_Omr'
    }

    It 'has release notes for its own version that name every exported cmdlet' {
        $notes = $Data.PrivateData.PSData.ReleaseNotes
        $notes | Should -Match ('^{0}:' -f [regex]::Escape($Data.ModuleVersion))
        foreach ($name in $Exported) { $notes | Should -Match ([regex]::Escape($name)) -Because "the release notes name $name" }
    }

    It 'has gallery tags without spaces, for both editions and the platforms it runs on' {
        $tags = @($Data.PrivateData.PSData.Tags)
        $tags | Where-Object { $_ -match '\s' } | Should -BeNullOrEmpty
        foreach ($t in 'SMTP', 'OpenRelay', 'Exchange', 'PSEdition_Core', 'PSEdition_Desktop', 'Windows', 'Linux') { $tags | Should -Contain $t }
        @($tags | Sort-Object -Unique).Count | Should -Be $tags.Count
    }

    It 'keeps its version equal to Directory.Build.props' {
        $props = [xml](Get-Content -Raw -LiteralPath (Join-Path $PSScriptRoot '../Directory.Build.props'))
        $version = @($props.Project.PropertyGroup | ForEach-Object { if ($_.PSObject.Properties['Version']) { $_.Version } })[0]
        $Data.ModuleVersion | Should -Be $version
    }

    It 'ships the help it names: MAML for Omr.dll and about_Omr' {
        Join-Path $ModuleDir 'en-US/Omr.dll-Help.xml' | Should -Exist
        Join-Path $ModuleDir 'en-US/about_Omr.help.txt' | Should -Exist
    }
}

Describe 'Test-OpenRelay command metadata' -Tag Module {
    BeforeAll {
        $script:Command = Get-Command Test-OpenRelay -ErrorAction Stop
    }

    It 'is a cmdlet from the Omr module' {
        $Command.CommandType | Should -Be 'Cmdlet'
        $Command.ModuleName | Should -Be 'Omr'
    }

    It 'declares OutputType Omr.RelayTestResult' {
        $Command.OutputType.Name | Should -Contain 'Omr.RelayTestResult'
    }

    It 'takes -Domain at position 0, by value and by property name, with aliases DomainName and DNSRoot' {
        $p = $Command.Parameters['Domain']
        $p.ParameterType | Should -Be ([string[]])
        $p.Aliases | Should -Contain 'DomainName'
        $p.Aliases | Should -Contain 'DNSRoot'
        $attr = @($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
        ($attr.Position | Where-Object { $_ -ge 0 }) | Should -Contain 0
        $attr.ValueFromPipeline | Should -Contain $true
        $attr.ValueFromPipelineByPropertyName | Should -Contain $true
    }

    It 'takes -ComputerName by property name with aliases Fqdn, DNSHostName, HostName, IPAddress' {
        $p = $Command.Parameters['ComputerName']
        $p.ParameterType | Should -Be ([string[]])
        foreach ($alias in 'Fqdn', 'DNSHostName', 'HostName', 'IPAddress') {
            $p.Aliases | Should -Contain $alias
        }
        $attr = @($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
        $attr.ValueFromPipelineByPropertyName | Should -Contain $true
        $attr.ValueFromPipeline | Should -Not -Contain $true -Because 'a piped string is a domain'
    }

    It 'has parameter <Name> of type <Type>' -ForEach @(
        @{ Name = 'DnsServer'; Type = 'System.String[]' }
        @{ Name = 'Port'; Type = 'System.Int32[]' }
        @{ Name = 'Test'; Type = 'System.String[]' }
        @{ Name = 'ProbeFrom'; Type = 'System.String' }
        @{ Name = 'ProbeRecipient'; Type = 'System.String' }
        @{ Name = 'HeloName'; Type = 'System.String' }
        @{ Name = 'StopOnFirst'; Type = 'System.Management.Automation.SwitchParameter' }
        @{ Name = 'TimeoutSec'; Type = 'System.Int32' }
        @{ Name = 'GreylistRetrySec'; Type = 'System.Int32' }
        @{ Name = 'ThrottleLimit'; Type = 'System.Int32' }
    ) {
        $Command.Parameters.Keys | Should -Contain $Name
        $Command.Parameters[$Name].ParameterType.FullName | Should -Be $Type
    }

    It 'offers -Tls Auto, Required and None' {
        $p = $Command.Parameters['Tls']
        $values = if ($p.ParameterType.IsEnum) { [enum]::GetNames($p.ParameterType) }
        else { @($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] }).ValidValues }
        @($values | Sort-Object) | Should -Be @('Auto', 'None', 'Required')
    }

    It 'has Verdict values Open, Closed, Inconclusive, Unreachable, NoMail, Hidden, Excluded' {
        $verdict = [Omr.RelayTestResult].GetProperty('Verdict').PropertyType
        $verdict | Should -Be ([Omr.RelayVerdict])
        [enum]::GetNames($verdict) | Should -Be @('Open', 'Closed', 'Inconclusive', 'Unreachable', 'NoMail', 'Hidden', 'Excluded')
    }
}

Describe 'Test-OpenRelay help' -Tag Module, Help {
    BeforeAll {
        $script:Help = Get-Help Test-OpenRelay -Full
    }

    It 'has a synopsis and a description from the MAML help file' {
        Join-Path $ModuleDir 'en-US/Omr.dll-Help.xml' | Should -Exist
        $Help.Synopsis | Should -Not -BeNullOrEmpty
        $Help.Synopsis | Should -Not -Match '^\s*Test-OpenRelay \[' -Because 'an auto-generated syntax line is not help'
        ($Help.Description.Text -join '') | Should -Not -BeNullOrEmpty
    }

    It 'has at least one example' {
        @($Help.Examples.Example).Count | Should -BeGreaterThan 0
    }

    It 'documents parameter <_>' -ForEach @('Domain', 'ComputerName', 'DnsServer', 'Port', 'Tls', 'Test', 'TimeoutSec') {
        $p = @($Help.Parameters.Parameter | Where-Object Name -EQ $_)
        $p.Count | Should -Be 1
        ($p[0].Description.Text -join '') | Should -Not -BeNullOrEmpty
    }
}

Describe 'Omr.Engine compiled ahead of time' -Tag Module, ReadyToRun {
    BeforeAll {
        $script:IlEngine = Join-Path $DepsDir 'Omr.Engine.dll'
        $script:R2REngine = Join-Path $DepsDir "r2r/$ReadyToRunRid/Omr.Engine.dll"
        $script:OnReadyToRunPlatform = $IsLinux -and [Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture -eq 'X64' -and [Environment]::Version.Major -ge 10

        function script:Copy-BuiltModule([string] $Name) {
            $copy = Join-Path $TestDrive "$Name/Omr"
            New-Item -ItemType Directory -Force -Path (Split-Path -Parent $copy) | Out-Null
            Copy-Item -Recurse -LiteralPath $ModuleDir -Destination $copy
            $copy
        }

        function script:Assert-LoadsIlEngine([string] $Copy) {
            # In a fresh pwsh: the module imports, a scan works, and the engine is the IL copy.
            $pwsh = @(Get-OmrPwshCommand)
            $script = "Import-Module '$Copy/Omr.psd1'; `$r = Test-OpenRelay -ComputerName 127.0.0.1 -Port 9 -TimeoutSec 2; `$r.Verdict; ([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'Omr.Engine' }).Location"
            $out = @(& $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $script)
            $LASTEXITCODE | Should -Be 0
            $out[0] | Should -Be 'Unreachable'
            $out[1] | Should -Be (Join-Path $Copy 'dependencies/Omr.Engine.dll')
        }
    }

    It 'ships a ReadyToRun copy for linux-x64 that is the same build as the IL copy' {
        $il = Read-ModuleIdentity $IlEngine
        $r2r = Read-ModuleIdentity $R2REngine
        $il.ReadyToRun | Should -BeFalse
        $r2r.ReadyToRun | Should -BeTrue
        $r2r.Mvid | Should -Be $il.Mvid
        $r2r.TargetsFramework | Should -BeTrue
    }

    It 'loads the ReadyToRun copy on .NET 10 on linux-x64' -Skip:(-not $OnReadyToRunPlatform) {
        $null = Test-OpenRelay -ComputerName 127.0.0.1 -Port 9 -TimeoutSec 2
        $engine = @([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Omr.Engine' })
        $engine.Count | Should -Be 1
        $engine[0].Location | Should -Be $R2REngine
    }

    It 'falls back to the IL copy when the ReadyToRun copy is of another build' {
        # A module whose r2r copy is stale (another assembly's file in its place): the loader must
        # notice the different module version id and load dependencies/Omr.Engine.dll.
        $copy = Copy-BuiltModule 'stale'
        Copy-Item -Force -LiteralPath (Join-Path $copy 'dependencies/DnsClient.dll') -Destination (Join-Path $copy "dependencies/r2r/$ReadyToRunRid/Omr.Engine.dll")
        Assert-LoadsIlEngine $copy
    }

    It 'falls back to the IL copy when the ReadyToRun copy is for another platform' {
        # The same build, but its PE header claims Windows x64 code (machine 0x8664): loading it
        # would fail, and a load context that failed a name refuses the IL copy too, so the loader
        # must see it from the header first.
        $copy = Copy-BuiltModule 'foreign'
        $r2r = Join-Path $copy "dependencies/r2r/$ReadyToRunRid/Omr.Engine.dll"
        $bytes = [IO.File]::ReadAllBytes($r2r)
        $coff = [BitConverter]::ToInt32($bytes, 0x3C) + 4
        $bytes[$coff] = 0x64; $bytes[$coff + 1] = 0x86
        [IO.File]::WriteAllBytes($r2r, $bytes)
        (Read-ModuleIdentity $r2r).Mvid | Should -Be (Read-ModuleIdentity $IlEngine).Mvid
        Assert-LoadsIlEngine $copy
    }

    It 'offers a ReadyToRun copy only for the engine, and only on its platform' {
        $ctx = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Omr.Loader' } | Select-Object -First 1
        $type = $ctx.GetType('Omr.Loader.OmrLoadContext', $true)
        $type::ReadyToRunFrameworkMajor | Should -Be 10
        if ($OnReadyToRunPlatform) { $type::ReadyToRunMachine() | Should -Be 0xFD1D -Because 'crossgen2 marks Linux x64 code as 0x8664 XOR 0x7B79' }
        $chosen = $type::ReadyToRunCopy($DepsDir, 'Omr.Engine', $IlEngine)
        if ($OnReadyToRunPlatform) { $chosen | Should -Be $R2REngine } else { $chosen | Should -BeNullOrEmpty }
        $type::ReadyToRunCopy($DepsDir, 'DnsClient', (Join-Path $DepsDir 'DnsClient.dll')) | Should -BeNullOrEmpty -Because 'only the engine is shipped compiled ahead of time'
    }
}

Describe 'Assembly isolation on PowerShell 7' -Tag Module, Isolation {
    BeforeAll {
        # Make the engine load its DNS library: a lookup against a port where nothing answers.
        $null = Test-OpenRelay -Domain 'isolation.invalid' -DnsServer '127.0.0.1:9' -TimeoutSec 2 -ErrorAction SilentlyContinue
        $script:Alc = [System.Runtime.Loader.AssemblyLoadContext]
        $script:Loaded = { param($name) @([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq $name }) }
    }

    It 'loads <_> (the cmdlets and the output types) in the default context' -ForEach @('Omr', 'Omr.Model') {
        $asm = & $Loaded $_
        $asm.Count | Should -Be 1
        $Alc::GetLoadContext($asm[0]) | Should -Be $Alc::Default
    }

    It 'resolves the output types as type literals in scripts' {
        [Omr.RelayVerdict]::Open | Should -Be 'Open'
        $r = Test-OpenRelay -ComputerName 127.0.0.1 -Port 9 -TimeoutSec 2
        $r | Should -BeOfType ([Omr.RelayTestResult])
        $r.Verdict | Should -Be ([Omr.RelayVerdict]::Unreachable)
        [Omr.RelayProof]::Delivered | Should -BeGreaterThan ([Omr.RelayProof]::DataAccepted)
    }

    It 'loads <_> from dependencies/ into the Omr context, not the default one' -ForEach @('Omr.Engine', 'DnsClient') {
        $asm = & $Loaded $_
        $asm.Count | Should -Be 1
        $context = $Alc::GetLoadContext($asm[0])
        $context | Should -Not -Be $Alc::Default
        $context.Name | Should -Be 'Omr'
        # Omr.Engine may be its ahead-of-time compiled copy (see 'Omr.Engine compiled ahead of time').
        Split-Path -Parent $asm[0].Location | Should -BeIn @($DepsDir, (Join-Path $DepsDir "r2r/$ReadyToRunRid"))
    }

    It 'keeps MailKit and MimeKit out of the default context' {
        $engine = (& $Loaded 'Omr.Engine')[0]
        $context = $Alc::GetLoadContext($engine)
        # Bind them the way Omr.Engine would when it needs them.
        foreach ($name in 'MailKit', 'MimeKit') {
            $null = $context.LoadFromAssemblyName([System.Reflection.AssemblyName]::new($name))
        }
        $smtpClient = [AppDomain]::CurrentDomain.GetAssemblies() |
            ForEach-Object { $_.GetType('MailKit.Net.Smtp.SmtpClient', $false) } | Where-Object { $_ } | Select-Object -First 1
        $smtpClient | Should -Not -BeNullOrEmpty
        $Alc::GetLoadContext($smtpClient.Assembly) | Should -Not -Be $Alc::Default
        foreach ($name in 'MailKit', 'MimeKit') {
            foreach ($asm in & $Loaded $name) {
                $Alc::GetLoadContext($asm) | Should -Not -Be $Alc::Default -Because "$name must stay in Omr's own context"
            }
        }
    }

    It 'shares the runtime''s own assemblies with the default context' {
        $engine = (& $Loaded 'Omr.Engine')[0]
        $context = $Alc::GetLoadContext($engine)
        $channels = $context.LoadFromAssemblyName([System.Reflection.AssemblyName]::new('System.Threading.Channels'))
        $Alc::GetLoadContext($channels) | Should -Be $Alc::Default
    }

    It 'works in a session that already loaded older DnsClient, MailKit and MimeKit' {
        $nuget = if ($env:OMR_NUGET_PACKAGES) { $env:OMR_NUGET_PACKAGES } else { Join-Path $HOME '.nuget/packages' }
        $tools = [xml](Get-Content -Raw -LiteralPath (Join-Path $PSScriptRoot '../tools/tools.csproj'))
        $props = $tools.Project.PropertyGroup
        $fixtures = @(
            Join-Path $nuget "dnsclient/$($props.OmrFixtureDnsClientVersion)/lib/netstandard2.0/DnsClient.dll"
            Join-Path $nuget "mimekit/$($props.OmrFixtureMimeKitVersion)/lib/netstandard2.0/MimeKit.dll"
            Join-Path $nuget "mailkit/$($props.OmrFixtureMailKitVersion)/lib/netstandard2.0/MailKit.dll"
        )
        foreach ($f in $fixtures) { $f | Should -Exist -Because 'build.ps1 Test restores tools/tools.csproj' }

        # A fresh process: load the foreign copies first (as another module would), then Omr, then
        # run a real probe against the lab.
        $child = {
            param($fixtures, $helpers, $module, $lab)
            $ErrorActionPreference = 'Stop'
            foreach ($f in $fixtures) { Add-Type -Path $f }
            Import-Module $helpers
            $env:OMR_LAB = $lab
            $l = Start-OmrLab
            try {
                Import-Module $module
                $r = Test-OpenRelay -Domain 'open.omr-lab.test' -DnsServer $l.dnsServer -Port $l.smtpPort -TimeoutSec 10
                $alc = [System.Runtime.Loader.AssemblyLoadContext]
                [pscustomobject]@{
                    Verdicts   = @($r | ForEach-Object { "$($_.Verdict)" })
                    Assemblies = @([AppDomain]::CurrentDomain.GetAssemblies() |
                            Where-Object { $_.GetName().Name -in 'DnsClient', 'MimeKit', 'MailKit' } |
                            ForEach-Object { '{0} {1} {2}' -f $_.GetName().Name, $_.GetName().Version, $alc::GetLoadContext($_).Name })
                } | ConvertTo-Json -Compress
            }
            finally { Stop-OmrLab $l }
        }
        $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes(
                "& { $child } -fixtures @('$($fixtures -join "','")') -helpers '$(Join-Path $PSScriptRoot 'TestHelpers.psm1')' -module '$ModulePath' -lab '$(Get-OmrLabPath)'"))
        $output = & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -EncodedCommand $encoded 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
        $json = @($output | Where-Object { "$_" -match '^\{' })[-1]
        $result = $json | ConvertFrom-Json
        $result.Verdicts | Should -Be @('Open')
        $result.Assemblies | Should -Contain "DnsClient $($props.OmrFixtureDnsClientVersion).0 Default"
        $packages = [xml](Get-Content -Raw -LiteralPath (Join-Path $PSScriptRoot '../Directory.Packages.props'))
        $ours = @($packages.Project.ItemGroup.PackageVersion | Where-Object Include -EQ 'DnsClient')[0].Version
        $result.Assemblies | Should -Contain "DnsClient $ours.0 Omr"
    }
}
