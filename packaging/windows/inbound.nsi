; Inbound's Windows installer, built from Linux with Debian's makensis
; (scripts/windows-installer.sh). Per user, no administrator: the program goes to
; %LOCALAPPDATA%\Programs\Inbound, a Start menu shortcut, an entry in Installed apps,
; and the masv:// and inbound:// links (masv:// only when no other application, such
; as MASV's own, already opens them). What Tauri's NSIS bundle does, without the
; plugins it downloads at build time.
;
; makensis -DVERSION=0.1.0 -DBIN_DIR=<folder with the .exe and .dll> -DOUT_FILE=<.exe>

; A 64-bit installer for a 64-bit program (it also runs where only 64-bit Windows
; programs can, such as a 64-bit-only Wine).
Target amd64-unicode
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel user

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "StrFunc.nsh"
${StrStr}
${UnStrStr}

!define PRODUCT "Inbound"
!define IDENTIFIER "app.inbound.desktop"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${IDENTIFIER}"
; Where WebView2 (the Edge engine the window draws with) says it is installed.
!define WEBVIEW2_CLIENT "{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"

Name "${PRODUCT}"
OutFile "${OUT_FILE}"
InstallDir "$LOCALAPPDATA\Programs\${PRODUCT}"
InstallDirRegKey HKCU "Software\${PRODUCT}" "InstallDir"
VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "FileDescription" "${PRODUCT} installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "MIT OR Apache-2.0"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_FINISHPAGE_RUN "$INSTDIR\inbound-desktop.exe"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

; Registers scheme $0 to open in the installed app.
Function RegisterScheme
  WriteRegStr HKCU "Software\Classes\$0" "" "URL:$0 link"
  WriteRegStr HKCU "Software\Classes\$0" "URL Protocol" ""
  WriteRegStr HKCU "Software\Classes\$0\DefaultIcon" "" "$INSTDIR\inbound-desktop.exe,0"
  WriteRegStr HKCU "Software\Classes\$0\shell\open\command" "" '"$INSTDIR\inbound-desktop.exe" "%1"'
FunctionEnd

Section "Inbound" SecMain
  SetShellVarContext current
  SetOutPath "$INSTDIR"
  File "${BIN_DIR}\inbound-desktop.exe"
  File "${BIN_DIR}\inbound.exe"
  File "${BIN_DIR}\WebView2Loader.dll"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${PRODUCT}.lnk" "$INSTDIR\inbound-desktop.exe"

  StrCpy $0 "inbound"
  Call RegisterScheme
  ; masv:// may belong to MASV's own app: take it only if nobody opens it, or we did.
  ; (The user's classes, then the machine's: what HKCR merges.)
  ReadRegStr $1 HKCU "Software\Classes\masv\shell\open\command" ""
  ${If} $1 == ""
    ReadRegStr $1 HKLM "Software\Classes\masv\shell\open\command" ""
  ${EndIf}
  ${StrStr} $2 $1 "inbound-desktop.exe"
  ${If} $1 == ""
  ${OrIf} $2 != ""
    StrCpy $0 "masv"
    Call RegisterScheme
  ${EndIf}

  WriteRegStr HKCU "Software\${PRODUCT}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\inbound-desktop.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1

  ; The window needs WebView2 (part of Windows 11 and of an up-to-date Windows 10).
  ReadRegStr $3 HKLM "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_CLIENT}" "pv"
  ReadRegStr $4 HKCU "Software\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_CLIENT}" "pv"
  ${If} $3 == ""
  ${AndIf} $4 == ""
    DetailPrint "WebView2 was not found: the Inbound window needs it (the inbound command does not)."
    MessageBox MB_OK|MB_ICONINFORMATION "Inbound's window needs Microsoft Edge WebView2, which this Windows does not have yet. Install the WebView2 Runtime from Microsoft (developer.microsoft.com/microsoft-edge/webview2), then start Inbound. The inbound command works without it." /SD IDOK
  ${EndIf}
SectionEnd

Section "Uninstall"
  SetShellVarContext current
  ; Downloads and the data folder (%LOCALAPPDATA%\Inbound) are the person's: kept.
  Delete "$INSTDIR\inbound-desktop.exe"
  Delete "$INSTDIR\inbound.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUCT}.lnk"
  ; Links are unregistered only where they still open this installation.
  ReadRegStr $1 HKCU "Software\Classes\inbound\shell\open\command" ""
  ${UnStrStr} $2 $1 "$INSTDIR"
  ${If} $2 != ""
    DeleteRegKey HKCU "Software\Classes\inbound"
  ${EndIf}
  ReadRegStr $1 HKCU "Software\Classes\masv\shell\open\command" ""
  ${UnStrStr} $2 $1 "$INSTDIR"
  ${If} $2 != ""
    DeleteRegKey HKCU "Software\Classes\masv"
  ${EndIf}
  DeleteRegKey HKCU "Software\${PRODUCT}"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
SectionEnd
