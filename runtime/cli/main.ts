// placeholder replaced by the CLI work
console.log('edge-infer');
