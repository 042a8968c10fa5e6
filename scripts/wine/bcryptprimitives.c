/* Wine 8.0 (Debian 12) has no bcryptprimitives.dll; Wine 8.13 added it. Rust's std
 * takes its random numbers from ProcessPrng there (since Rust 1.78), so without this
 * no Rust program starts. Used only to run the Windows tests under Wine; real Windows
 * (10 and later) has the real one. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len); /* RtlGenRandom */

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
