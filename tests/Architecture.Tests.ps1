#Requires -Version 7.2
# The shape of the code, as the built module shows it: what the cmdlets expose comes from Omr.Model
# (or PowerShell and the base class library), and the cmdlet assembly speaks only to the engine.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:ModuleDir = Split-Path -Parent (Get-OmrModulePath)
    $script:RepoRoot = Split-Path -Parent $PSScriptRoot
    Import-OmrModule

    # The assemblies a public type of a cmdlet may come from.
    $script:AllowedAssemblies = @('Omr.Model', 'Omr', 'System.Management.Automation', 'System.Private.CoreLib', 'System.Private.Uri', 'System.Runtime', 'netstandard', 'mscorlib')

    # Every type named by a type: arrays, Nullable<T> and other generics are opened up.
    function script:Expand-Type([type] $Type) {
        if ($null -eq $Type) { return }
        if ($Type.HasElementType) { Expand-Type $Type.GetElementType(); return }
        $Type
        if ($Type.IsGenericType) { foreach ($a in $Type.GetGenericArguments()) { Expand-Type $a } }
    }

    # "Cmdlet -Parameter: Type (Assembly)" for every parameter and output type of every exported cmdlet.
    function script:Get-PublicType {
        foreach ($cmd in (Get-Module Omr).ExportedCmdlets.Values) {
            foreach ($p in $cmd.Parameters.Values) {
                if ([System.Management.Automation.Cmdlet]::CommonParameters -contains $p.Name -or
                    [System.Management.Automation.Cmdlet]::OptionalCommonParameters -contains $p.Name) { continue }
                foreach ($t in Expand-Type $p.ParameterType) {
                    [pscustomobject]@{ Where = "$($cmd.Name) -$($p.Name)"; Type = $t.FullName; Assembly = $t.Assembly.GetName().Name }
                }
            }
            foreach ($o in $cmd.OutputType) {
                foreach ($t in Expand-Type $o.Type) {
                    [pscustomobject]@{ Where = "$($cmd.Name) output"; Type = $t.FullName; Assembly = $t.Assembly.GetName().Name }
                }
            }
        }
    }
}

Describe 'The public surface of the cmdlets' -Tag Module, Architecture {
    It 'finds the parameter and output types of every exported cmdlet' {
        $all = @(Get-PublicType)
        $all.Count | Should -BeGreaterThan 40
        @($all | Where-Object Where -Like '* output').Count | Should -BeGreaterOrEqual 4
        # -Security of Get-RelayEvidence and Send-RelayNotice; -Security and -SmtpSecurity of Invoke-RelayMonitor.
        @($all | Where-Object Type -EQ 'Omr.MailSecurity').Count | Should -Be 4
    }

    It 'takes and returns only types of Omr.Model, PowerShell or the base class library' {
        $foreign = @(Get-PublicType | Where-Object { $_.Assembly -notin $AllowedAssemblies } |
                ForEach-Object { "$($_.Where): $($_.Type) from $($_.Assembly)" })
        $foreign | Should -BeNullOrEmpty
    }

    It 'MailProtocol, MailSecurity and TlsMode come from Omr.Model' {
        [Omr.MailProtocol].Assembly.GetName().Name | Should -Be 'Omr.Model'
        [Omr.MailSecurity].Assembly.GetName().Name | Should -Be 'Omr.Model'
        [Omr.TlsMode].Assembly.GetName().Name | Should -Be 'Omr.Model'
    }
}

Describe 'The cmdlet assembly speaks only to the engine' -Tag Module, Architecture {
    It 'Omr.dll references only Omr.Engine, Omr.Model, netstandard and System.Management.Automation' {
        $path = Join-Path $ModuleDir 'Omr.dll'
        $stream = [System.IO.File]::OpenRead($path)
        try {
            $pe = [System.Reflection.PortableExecutable.PEReader]::new($stream)
            $md = [System.Reflection.Metadata.PEReaderExtensions]::GetMetadataReader($pe)
            $names = @(foreach ($h in $md.AssemblyReferences) { $md.GetString($md.GetAssemblyReference($h).Name) })
            $pe.Dispose()
        }
        finally { $stream.Dispose() }
        $names | Should -Contain 'Omr.Engine'
        @($names | Where-Object { $_ -notin 'Omr.Engine', 'Omr.Model', 'netstandard', 'System.Management.Automation' }) | Should -BeNullOrEmpty
    }

    It 'no source file of the cmdlet project names MimeKit, MailKit or DnsClient' {
        $files = @(Get-ChildItem -LiteralPath (Join-Path $RepoRoot 'src/Omr') -Recurse -Filter *.cs |
                Where-Object { $_.FullName -notmatch '[\\/](obj|bin)[\\/]' })
        $files.Count | Should -BeGreaterThan 5
        $hits = @($files | Select-String -Pattern 'MimeKit|MailKit|DnsClient' -CaseSensitive |
                ForEach-Object { "$($_.Path | Split-Path -Leaf):$($_.LineNumber): $($_.Line.Trim())" })
        $hits | Should -BeNullOrEmpty
    }
}

Describe 'Each concern in its place' -Tag Module, Architecture {
    BeforeAll {
        function script:Get-Sources([string] $Folder) {
            @(Get-ChildItem -LiteralPath (Join-Path $RepoRoot $Folder) -Recurse -Filter *.cs | Where-Object { $_.FullName -notmatch '[\\/](obj|bin)[\\/]' })
        }
    }

    It 'no cmdlet opens the database or holds SQL: Microsoft.Data.Sqlite and SQL statements live in src/Omr.Engine/State' {
        $files = Get-Sources 'src/Omr'
        $files.Count | Should -BeGreaterThan 5
        $hits = @($files | Select-String -Pattern 'Microsoft\.Data\.Sqlite|SqliteConnection|\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b' -CaseSensitive |
                ForEach-Object { "$($_.Path | Split-Path -Leaf):$($_.LineNumber): $($_.Line.Trim())" })
        $hits | Should -BeNullOrEmpty
        $engine = @(Get-Sources 'src/Omr.Engine' | Where-Object { $_.FullName -notmatch '[\\/]State[\\/]' } |
                Select-String -Pattern 'Microsoft\.Data\.Sqlite' -CaseSensitive | ForEach-Object { "$($_.Path | Split-Path -Leaf):$($_.LineNumber)" })
        $engine | Should -BeNullOrEmpty -Because 'the engine talks to SQLite in State/ only'
    }

    It 'the rules folder does no I/O: no files, sockets, DNS, SQL or clocks (System.Net only for IPAddress)' {
        $files = Get-Sources 'src/Omr.Engine/Rules'
        $files.Count | Should -BeGreaterThan 0
        $hits = @($files | Select-String -Pattern 'System\.IO|System\.Net\.(Sockets|Http|Mail|Security|NetworkInformation)|Dns\.|Sqlite|DnsClient|MailKit|HttpClient|DateTimeOffset\.(UtcNow|Now)|DateTime\.(UtcNow|Now)|File\.|Directory\.' -CaseSensitive |
                ForEach-Object { "$($_.Path | Split-Path -Leaf):$($_.LineNumber): $($_.Line.Trim())" })
        $hits | Should -BeNullOrEmpty
    }

    It 'no source file in src/ is longer than 450 lines: a file that grows past it does several jobs and is split' {
        $files = @('src/Omr', 'src/Omr.Engine', 'src/Omr.Model', 'src/Omr.Lab', 'src/Omr.Fleet', 'src/Omr.Loader') | ForEach-Object { Get-Sources $_ }
        $files.Count | Should -BeGreaterThan 50
        $long = @($files | ForEach-Object {
                $n = @(Get-Content -LiteralPath $_.FullName).Count
                if ($n -gt 450) { "$($_.FullName.Substring($RepoRoot.Length + 1)): $n lines" }
            })
        $long | Should -BeNullOrEmpty
    }

    It 'the battery state is changed in one place: the pipelined and lock-step batteries hold no mutable battery fields of their own' {
        $files = Get-Sources 'src/Omr.Engine/Probing/Battery' | Where-Object Name -In 'PipelinedBattery.cs', 'LockStepBattery.cs'
        $files.Count | Should -Be 2
        # Their fields are what they were given (readonly), and the pipelined group's reply count.
        $hits = @($files | Select-String -Pattern '^\s*private (?!readonly|const|static|sealed|async|bool Throttled|Next |void |int _groupReplies)[\w<>\[\]?, ]+ _\w+\s*(;|=)' |
                ForEach-Object { "$($_.Path | Split-Path -Leaf):$($_.LineNumber): $($_.Line.Trim())" })
        $hits | Should -BeNullOrEmpty
        $session = Get-Sources 'src/Omr.Engine/Probing' | Where-Object Name -Like 'SmtpProbeSession*.cs'
        @($session | Select-String -Pattern '_pending\b|_confirm\b|_lockStep\b|_rerun\b|_completed\b|_testsPerConnection|_oneTransactionPerConnection|_fromPipeline' -CaseSensitive) | Should -BeNullOrEmpty
    }
}

