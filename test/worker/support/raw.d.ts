// Fixture files imported as text through Vite's ?raw suffix (workerd tests cannot read the disk).
declare module "*?raw" {
  const text: string;
  export default text;
}
