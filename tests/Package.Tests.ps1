#Requires -Version 7.2
# The built module as a package: PSResourceGet (shipped inside PowerShell 7.4+) publishes it to a
# file repository, saves it elsewhere, and the saved copy imports and works on its own in a fresh
# pwsh — no file of the build tree is needed.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:ModuleDir = Split-Path -Parent (Get-OmrModulePath)
    $script:Feed = Join-Path $TestDrive 'feed'
    $script:Saved = Join-Path $TestDrive 'saved'
    New-Item -ItemType Directory -Path $Feed, $Saved | Out-Null
    $script:RepoName = 'OmrPester-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    Register-PSResourceRepository -Name $RepoName -Uri $Feed -Trusted
}

AfterAll {
    Unregister-PSResourceRepository -Name $RepoName -ErrorAction SilentlyContinue
}

Describe 'Packaging with PSResourceGet' -Tag Module, Package {
    It 'publishes the built module as a NuGet package' {
        Publish-PSResource -Path $ModuleDir -Repository $RepoName
        $version = (Import-PowerShellDataFile (Join-Path $ModuleDir 'Omr.psd1')).ModuleVersion
        Join-Path $Feed "Omr.$version.nupkg" | Should -Exist
        (Find-PSResource -Name Omr -Repository $RepoName).Version.ToString() | Should -Be $version
    }

    It 'saves it elsewhere with every file the module needs' {
        Save-PSResource -Name Omr -Repository $RepoName -Path $Saved -TrustRepository
        $root = (Get-ChildItem -LiteralPath (Join-Path $Saved 'Omr') -Directory)[0].FullName
        foreach ($f in 'Omr.psd1', 'Omr.dll', 'Omr.Model.dll', 'Omr.Init.psm1', 'Omr.Format.ps1xml', 'en-US/Omr.dll-Help.xml', 'dependencies/Omr.Engine.dll', 'dependencies/r2r/linux-x64/Omr.Engine.dll', 'dependencies/MailKit.dll', 'dependencies/DnsClient.dll') {
            Join-Path $root $f | Should -Exist
        }
    }

    It 'imports the saved copy in a fresh pwsh and tests a host' {
        $manifest = Get-ChildItem -LiteralPath (Join-Path $Saved 'Omr') -Recurse -Filter Omr.psd1 | Select-Object -First 1
        $script = "Import-Module '$($manifest.FullName)'; `$r = Test-OpenRelay -ComputerName 127.0.0.1 -Port 9 -TimeoutSec 3; " +
            "'{0}|{1}|{2}' -f (Get-Command Test-OpenRelay).Module.ModuleBase, `$r.Verdict, (@(Get-Command -Module Omr).Name -join ',')"
        Push-Location (Split-Path -Parent $PSScriptRoot)
        try { $out = (& dotnet pwsh -NoProfile -NonInteractive -Command $script 2>&1) -join "`n" }
        finally { Pop-Location }
        $parts = $out.Trim().Split('|')
        $parts[0] | Should -Be $manifest.DirectoryName
        $parts[1] | Should -Be 'Unreachable'
        $parts[2] | Should -Be 'Export-RelayReport,Get-RelayEvidence,Get-RelayHistory,Invoke-RelayMonitor,Send-RelayNotice,Test-OpenRelay'
    }
}
