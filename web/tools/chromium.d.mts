// Types of tools/chromium.mjs, for the TypeScript tests.
export declare const FLAGS: string[];
export declare const EXECUTABLE: string;
